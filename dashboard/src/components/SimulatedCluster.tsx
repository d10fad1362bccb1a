// `storeflow up --simulated-cluster`: stores provision against a Kubernetes cluster simulated inside
// storeflow, so nothing is really deployed. The public health route says so
// (`simulatedCluster: true`); every page then carries a banner, and store URLs a short note.
//
// Health needs no session: `api()` sends no token when there is none, and the route answers
// anonymous callers too (admins only get more `checks`), so this works on the sign-in pages.

import { useId } from "react";

import { useHealth } from "../api/queries";
import { IconAlert } from "./icons";
import { cx } from "./ui";

/** True only once health has answered `simulatedCluster: true` (not while loading, not on error). */
export function useSimulatedCluster(): boolean {
  const health = useHealth();
  return health.isSuccess && health.data?.simulatedCluster === true;
}

/** Shown at the top of every page (signed in or not) while the cluster is simulated. */
export function SimulatedClusterBanner({ className }: { className?: string }) {
  const simulated = useSimulatedCluster();
  const titleId = useId();
  if (!simulated) return null;
  return (
    <div
      role="status"
      aria-labelledby={titleId}
      data-testid="simulated-cluster-banner"
      className={cx("border-b border-amber-300 bg-amber-50 px-4 py-2.5 text-amber-950 sm:px-6 lg:px-8", className)}
    >
      <div className="mx-auto flex max-w-7xl gap-2.5 text-sm">
        <IconAlert className="mt-0.5 size-4 shrink-0 text-amber-700" />
        <div className="min-w-0">
          <p id={titleId} className="font-semibold">
            Simulated cluster — nothing is really deployed
          </p>
          <p className="mt-0.5 break-words text-amber-900">
            Stores go through every provisioning step against a Kubernetes cluster simulated inside storeflow, so
            their sites cannot be opened; to provision real stores, run storeflow with a real cluster (see{" "}
            <code className="font-mono text-[0.8125rem] font-medium">docs/real-cluster.md</code> in the repository).
          </p>
        </div>
      </div>
    </div>
  );
}

/** Next to a store's URL while the cluster is simulated: the address leads nowhere. */
export function SimulatedUrlNote({ className }: { className?: string }) {
  const simulated = useSimulatedCluster();
  if (!simulated) return null;
  return (
    <span
      data-testid="simulated-url-note"
      className={cx(
        "inline-flex shrink-0 items-center rounded-full bg-amber-50 px-2 py-0.5 text-xs font-medium whitespace-nowrap text-amber-800 ring-1 ring-amber-600/25 ring-inset",
        className,
      )}
    >
      simulated: not reachable
    </span>
  );
}
