// The audit log: filters by category, action and subject (debounced), paginated. Admins see
// everything; tenants see their stores' entries.

import { useEffect, useState } from "react";
import { useSearchParams } from "react-router";

import { useAudit } from "../api/queries";
import { useAuth } from "../auth/AuthContext";
import { IconList, IconSearch } from "../components/icons";
import { Pagination } from "../components/Pagination";
import {
  ApiErrorAlert,
  Badge,
  Button,
  Card,
  EmptyState,
  Input,
  LoadingBlock,
  PageHeader,
  Select,
  Spinner,
  type Tone,
} from "../components/ui";
import { describeEvent } from "../lib/events";
import { formatAgo, formatDateTime, humanize } from "../lib/format";
import { useDebounced, useNow, useTitle } from "../lib/hooks";
import { offsetOf, parsePage } from "../lib/pagination";
import { SubjectLink } from "./Runs";

const LIMIT = 25;
const CATEGORIES: { value: string; label: string; tone: Tone }[] = [
  { value: "store", label: "Stores", tone: "indigo" },
  { value: "security", label: "Security", tone: "violet" },
  { value: "run", label: "Runs", tone: "blue" },
  { value: "schedule", label: "Schedules", tone: "teal" },
];

function toneOf(category: string): Tone {
  return CATEGORIES.find((c) => c.value === category)?.tone ?? "gray";
}

/** The compact text of an entry's data. */
function summary(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" · ");
}

export function AuditPage() {
  useTitle("Audit log");
  const { isAdmin } = useAuth();
  const [params, setParams] = useSearchParams();
  const category = params.get("category") ?? "";
  const action = params.get("action") ?? "";
  const subject = params.get("subject") ?? "";
  const page = parsePage(params.get("page"));
  // Typed filters reach the URL (and the API) only once typing pauses.
  const [actionInput, setActionInput] = useState(action);
  const [subjectInput, setSubjectInput] = useState(subject);
  const debouncedAction = useDebounced(actionInput.trim(), 400);
  const debouncedSubject = useDebounced(subjectInput.trim(), 400);
  useEffect(() => setActionInput(action), [action]);
  useEffect(() => setSubjectInput(subject), [subject]);

  const update = (changes: Record<string, string | undefined>, resetPage = true) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes)) {
          if (!value) next.delete(key);
          else next.set(key, value);
        }
        if (resetPage) next.delete("page");
        return next;
      },
      { replace: true },
    );
  useEffect(() => {
    if (debouncedAction !== action || debouncedSubject !== subject) {
      update({ action: debouncedAction || undefined, subject: debouncedSubject || undefined });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debouncedAction, debouncedSubject]);

  const audit = useAudit({
    category: category || undefined,
    action: action || undefined,
    subject: subject || undefined,
    limit: LIMIT,
    offset: offsetOf(page, LIMIT),
  });
  const now = useNow(10_000);
  const filtered = !!(category || action || subject);

  return (
    <>
      <PageHeader
        title="Audit log"
        description={
          isAdmin
            ? "Everything that happened on the platform, newest first."
            : "What happened to your stores, newest first."
        }
      />
      <div className="mb-4 grid gap-3 sm:grid-cols-3 lg:max-w-3xl">
        <div>
          <label htmlFor="audit-category" className="mb-1 block text-xs font-medium text-slate-600">
            Category
          </label>
          <Select id="audit-category" value={category} onChange={(e) => update({ category: e.target.value })}>
            <option value="">All categories</option>
            {CATEGORIES.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </Select>
        </div>
        <div>
          <label htmlFor="audit-action" className="mb-1 block text-xs font-medium text-slate-600">
            Action
          </label>
          <Input
            id="audit-action"
            type="search"
            placeholder="e.g. store_created"
            value={actionInput}
            onChange={(e) => setActionInput(e.target.value)}
            spellCheck={false}
          />
        </div>
        <div>
          <label htmlFor="audit-subject" className="mb-1 block text-xs font-medium text-slate-600">
            Subject
          </label>
          <div className="relative">
            <IconSearch className="pointer-events-none absolute top-1/2 left-3 size-4 -translate-y-1/2 text-slate-500" />
            <Input
              id="audit-subject"
              type="search"
              placeholder="store id, run id…"
              value={subjectInput}
              onChange={(e) => setSubjectInput(e.target.value)}
              className="pl-9 font-mono"
              spellCheck={false}
            />
          </div>
        </div>
      </div>

      <Card bodyClassName="p-0">
        {audit.isPending ? (
          <div className="p-5">
            <LoadingBlock rows={8} label="Loading the audit log" />
          </div>
        ) : audit.isError ? (
          <div className="p-5">
            <ApiErrorAlert error={audit.error} onRetry={() => audit.refetch()} />
          </div>
        ) : audit.data.events.length === 0 ? (
          <EmptyState
            icon={<IconList className="size-5" />}
            title={filtered ? "No entries match" : "The audit log is empty"}
            action={
              filtered ? (
                <Button onClick={() => setParams(new URLSearchParams(), { replace: true })}>Clear filters</Button>
              ) : null
            }
          >
            {filtered
              ? "Try a broader filter: actions and subjects must match exactly."
              : "Entries appear as people use the platform."}
          </EmptyState>
        ) : (
          <>
            <div className="relative overflow-x-auto">
              {audit.isFetching && audit.isPlaceholderData ? (
                <div className="absolute top-3 right-4">
                  <Spinner className="size-4 text-slate-500" label="Loading" />
                </div>
              ) : null}
              <table className="min-w-full text-sm">
                <caption className="sr-only">Audit entries</caption>
                <thead className="border-b border-slate-200 bg-slate-50/80 text-left text-xs font-medium tracking-wide text-slate-600 uppercase">
                  <tr>
                    <th scope="col" className="px-5 py-3">
                      When
                    </th>
                    <th scope="col" className="px-3 py-3">
                      Event
                    </th>
                    <th scope="col" className="hidden px-3 py-3 md:table-cell">
                      Subject
                    </th>
                    <th scope="col" className="hidden px-3 py-3 lg:table-cell">
                      Actor
                    </th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {audit.data.events.map((event) => {
                    const text = describeEvent({ kind: event.action, data: event.data });
                    const known = text.title !== humanize(event.action);
                    // Tenants read the entry's plain words (step labels, no ids); admins its data.
                    const details = isAdmin || !known ? summary(event.data) : text.detail;
                    return (
                      <tr key={event.id} className="align-top" data-audit-action={event.action}>
                        <td className="px-5 py-3 whitespace-nowrap">
                          <time dateTime={event.at} title={formatDateTime(event.at)} className="text-slate-700">
                            {formatAgo(event.at, now)}
                          </time>
                          <p className="text-xs text-slate-500">{formatDateTime(event.at)}</p>
                        </td>
                        <td className="max-w-xl px-3 py-3">
                          <div className="flex flex-wrap items-center gap-2">
                            <Badge tone={toneOf(event.category)}>{humanize(event.category)}</Badge>
                            <button
                              type="button"
                              className="rounded font-medium text-slate-900 hover:text-indigo-700"
                              onClick={() => update({ action: event.action })}
                              title="Show only this action"
                            >
                              {text.title === humanize(event.action) ? humanize(event.action) : text.title}
                            </button>
                          </div>
                          {details ? <p className="mt-1 text-xs break-words text-slate-500">{details}</p> : null}
                          <p className="mt-1 text-xs text-slate-500 md:hidden">
                            {event.subject ? <SubjectLink subject={event.subject} runs={isAdmin} /> : null}
                            {event.actorEmail ? ` · ${event.actorEmail}` : ""}
                          </p>
                        </td>
                        <td className="hidden px-3 py-3 md:table-cell">
                          <SubjectLink subject={event.subject} runs={isAdmin} />
                        </td>
                        <td className="hidden px-3 py-3 lg:table-cell">
                          <p className="text-slate-700">
                            {event.actorEmail ?? <span className="text-slate-600">system</span>}
                          </p>
                          {event.ipAddress ? (
                            <p className="font-mono text-xs text-slate-500">{event.ipAddress}</p>
                          ) : null}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            <Pagination
              total={audit.data.total}
              limit={audit.data.limit}
              offset={audit.data.offset}
              noun="entries"
              onPage={(p) => update({ page: p > 1 ? String(p) : undefined }, false)}
            />
          </>
        )}
      </Card>
    </>
  );
}
