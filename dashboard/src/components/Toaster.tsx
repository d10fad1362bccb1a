// Short confirmations ("Store retry initiated.") in a polite live region.

import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";

import { IconAlert, IconCheck, IconX } from "./icons";
import { cx } from "./ui";

interface Toast {
  id: number;
  tone: "success" | "error" | "info";
  message: ReactNode;
}

interface ToastApi {
  show: (message: ReactNode, tone?: Toast["tone"]) => void;
}

const ToastContext = createContext<ToastApi>({ show: () => undefined });

let nextId = 1;

export function Toaster({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const dismiss = useCallback((id: number) => setToasts((all) => all.filter((t) => t.id !== id)), []);
  const show = useCallback(
    (message: ReactNode, tone: Toast["tone"] = "success") => {
      const id = nextId++;
      setToasts((all) => [...all.slice(-3), { id, tone, message }]);
      setTimeout(() => dismiss(id), tone === "error" ? 8000 : 5000);
    },
    [dismiss],
  );
  const api = useMemo(() => ({ show }), [show]);
  return (
    <ToastContext.Provider value={api}>
      {children}
      <div
        aria-live="polite"
        className="pointer-events-none fixed inset-x-0 bottom-0 z-50 flex flex-col items-center gap-2 p-4 sm:items-end"
      >
        {toasts.map((toast) => (
          <div
            key={toast.id}
            role="status"
            className={cx(
              "pointer-events-auto flex w-full max-w-sm items-start gap-3 rounded-lg bg-slate-900 px-4 py-3 text-sm text-white shadow-lg",
            )}
          >
            {toast.tone === "error" ? (
              <IconAlert className="mt-0.5 size-4 shrink-0 text-rose-300" />
            ) : (
              <IconCheck className="mt-0.5 size-4 shrink-0 text-emerald-300" />
            )}
            <div className="min-w-0 flex-1">{toast.message}</div>
            <button
              type="button"
              onClick={() => dismiss(toast.id)}
              className="-m-1 rounded p-1 text-slate-400 hover:text-white focus-visible:outline-2 focus-visible:outline-indigo-400"
              aria-label="Dismiss"
            >
              <IconX className="size-4" />
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

export function useToast(): ToastApi {
  return useContext(ToastContext);
}
