// Workflow definitions (operators): every registered version with its steps.

import { useState } from "react";
import { Link } from "react-router";

import { useWorkflows } from "../api/queries";
import type { Workflow, WorkflowStep } from "../api/types";
import { IconWorkflow } from "../components/icons";
import { ApiErrorAlert, Badge, Card, EmptyState, LoadingBlock, Mono, PageHeader } from "../components/ui";
import { formatDateTime, formatDuration } from "../lib/format";
import { useTitle } from "../lib/hooks";
import { isRollbackStep, stepLabel } from "../lib/steps";

const SHOWN = 12;

function StepsTable({ name, version, steps }: { name: string; version: number; steps: WorkflowStep[] }) {
  const [all, setAll] = useState(false);
  const shown = all ? steps : steps.slice(0, SHOWN);
  return (
    <div className="overflow-x-auto rounded-lg border border-slate-200">
      <table className="min-w-full text-sm">
        <caption className="sr-only">
          Steps of {name} v{version}
        </caption>
        <thead className="bg-slate-50 text-left text-xs text-slate-600">
          <tr>
            <th scope="col" className="px-3 py-2 font-medium">
              #
            </th>
            <th scope="col" className="px-3 py-2 font-medium">
              Step
            </th>
            <th scope="col" className="hidden px-3 py-2 font-medium sm:table-cell">
              Shown to tenants as
            </th>
            <th scope="col" className="px-3 py-2 text-right font-medium">
              Attempts
            </th>
            <th scope="col" className="px-3 py-2 text-right font-medium">
              Timeout
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {shown.map((step) => (
            <tr key={step.index}>
              <td className="px-3 py-2 text-slate-600 tabular-nums">{step.index + 1}</td>
              <td className="px-3 py-2 font-mono text-[0.8125rem] text-slate-900">
                {step.name}
                {isRollbackStep(step.name) ? (
                  // An upgrade's on-failure step: it runs only when a main step fails for good.
                  <Badge tone="amber" className="ml-2 font-sans" title="Runs only when a step before it fails">
                    on failure
                  </Badge>
                ) : null}
              </td>
              <td className="hidden px-3 py-2 text-slate-700 sm:table-cell">{stepLabel(step.name)}</td>
              <td className="px-3 py-2 text-right tabular-nums">{step.maxAttempts}</td>
              <td className="px-3 py-2 text-right tabular-nums">{formatDuration(step.timeoutMs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {steps.length > SHOWN ? (
        <div className="border-t border-slate-100 px-3 py-2">
          <button
            type="button"
            className="rounded text-sm font-medium text-indigo-700 hover:text-indigo-600"
            onClick={() => setAll((a) => !a)}
          >
            {all ? "Show fewer" : `Show all ${steps.length} steps`}
          </button>
        </div>
      ) : null}
    </div>
  );
}

export function WorkflowsPage() {
  useTitle("Workflows");
  const workflows = useWorkflows();
  const groups = new Map<string, Workflow[]>();
  for (const workflow of workflows.data ?? []) {
    groups.set(workflow.name, [...(groups.get(workflow.name) ?? []), workflow]);
  }
  return (
    <>
      <PageHeader
        title="Workflows"
        description="The durable workflows runs execute. A changed definition is registered as a new version; runs keep the version they started with."
      />
      {workflows.isPending ? (
        <Card>
          <LoadingBlock rows={6} />
        </Card>
      ) : workflows.isError ? (
        <ApiErrorAlert error={workflows.error} onRetry={() => workflows.refetch()} />
      ) : groups.size === 0 ? (
        <Card>
          <EmptyState icon={<IconWorkflow className="size-5" />} title="No workflows registered" />
        </Card>
      ) : (
        <div className="grid gap-6 xl:grid-cols-2">
          {[...groups.entries()].map(([name, versions]) => (
            <Card
              key={name}
              title={<span className="font-mono">{name}</span>}
              description={`${versions.length} version${versions.length > 1 ? "s" : ""}`}
              actions={
                <Link
                  to={`/runs?workflow=${encodeURIComponent(name)}`}
                  className="text-sm font-medium text-indigo-700 hover:text-indigo-600"
                >
                  Runs
                </Link>
              }
            >
              <div className="space-y-5">
                {[...versions].reverse().map((version) => (
                  <div key={version.version}>
                    <div className="mb-2 flex flex-wrap items-center gap-2 text-xs text-slate-600">
                      <Badge tone={version.latest ? "indigo" : "gray"}>v{version.version}</Badge>
                      {version.latest ? <Badge tone="green">Latest</Badge> : null}
                      <span>
                        {version.steps.length} steps · registered {formatDateTime(version.registeredAt)}
                      </span>
                      <Mono className="text-xs">#{version.contentHash.slice(0, 12)}</Mono>
                    </div>
                    <StepsTable name={name} version={version.version} steps={version.steps} />
                  </div>
                ))}
              </div>
            </Card>
          ))}
        </div>
      )}
    </>
  );
}
