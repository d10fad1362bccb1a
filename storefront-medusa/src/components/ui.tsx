// Small shared building blocks: buttons, alerts, error and empty states, form fields.

import { useEffect, useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from "react";
import { Link } from "react-router";
import { friendlyError } from "../lib/errors";
import { useApp } from "../state/app";
import { AlertIcon } from "./Icons";

export const buttonPrimary =
  "inline-flex items-center justify-center gap-2 rounded-full bg-stone-900 px-6 py-3 text-sm font-semibold text-white shadow-sm transition hover:bg-stone-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-stone-900 disabled:cursor-not-allowed disabled:bg-stone-300 disabled:text-stone-600";
export const buttonSecondary =
  "inline-flex items-center justify-center gap-2 rounded-full border border-stone-300 bg-white px-6 py-3 text-sm font-semibold text-stone-900 transition hover:border-stone-900 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-stone-900 disabled:cursor-not-allowed disabled:opacity-50";
export const linkStyle = "font-medium text-stone-900 underline underline-offset-4 hover:text-emerald-800";

/** Sets the tab title to "<page> · <store>". */
export function useDocumentTitle(page?: string) {
  const { config } = useApp();
  useEffect(() => {
    document.title = page ? `${page} · ${config.storeName}` : config.storeName;
  }, [page, config.storeName]);
}

export function Spinner({ label = "Loading" }: { label?: string }) {
  return (
    <span role="status" className="inline-flex items-center gap-2 text-sm text-stone-600">
      <span className="h-4 w-4 animate-spin rounded-full border-2 border-stone-300 border-t-stone-900" aria-hidden="true" />
      <span>{label}…</span>
    </span>
  );
}

export function Alert({ children, tone = "error" }: { children: ReactNode; tone?: "error" | "info" | "success" }) {
  const tones = {
    error: "border-red-200 bg-red-50 text-red-900",
    info: "border-sky-200 bg-sky-50 text-sky-900",
    success: "border-emerald-200 bg-emerald-50 text-emerald-900",
  };
  return (
    <div role={tone === "error" ? "alert" : "status"} className={`flex gap-3 rounded-xl border px-4 py-3 text-sm ${tones[tone]}`}>
      {tone === "error" && <AlertIcon className="mt-0.5 shrink-0" size={18} />}
      <div className="min-w-0">{children}</div>
    </div>
  );
}

/** The one way a failed load is shown: what happened, and what to do next. */
export function ErrorState({ error, onRetry, children }: { error: unknown; onRetry?: () => void; children?: ReactNode }) {
  const friendly = friendlyError(error);
  return (
    <div role="alert" className="mx-auto flex max-w-md flex-col items-center rounded-2xl border border-stone-200 bg-white px-6 py-10 text-center shadow-sm">
      <span className="mb-4 grid h-12 w-12 place-items-center rounded-full bg-red-50 text-red-700">
        <AlertIcon size={24} />
      </span>
      <h2 className="text-lg font-semibold">{friendly.title}</h2>
      <p className="mt-2 text-sm text-stone-600">{friendly.message}</p>
      <div className="mt-6 flex flex-wrap justify-center gap-3">
        {onRetry && (
          <button type="button" className={buttonPrimary} onClick={onRetry}>
            Try again
          </button>
        )}
        {children ?? (
          <Link to="/" className={buttonSecondary}>
            Back to the home page
          </Link>
        )}
      </div>
    </div>
  );
}

export function EmptyState({ title, message, action }: { title: string; message?: ReactNode; action?: ReactNode }) {
  return (
    <div className="mx-auto flex max-w-md flex-col items-center rounded-2xl border border-dashed border-stone-300 px-6 py-12 text-center">
      <h2 className="text-lg font-semibold">{title}</h2>
      {message && <p className="mt-2 text-sm text-stone-600">{message}</p>}
      {action && <div className="mt-6">{action}</div>}
    </div>
  );
}

const fieldInput =
  "mt-1 block w-full rounded-lg border border-stone-300 bg-white px-3 py-2.5 text-base text-stone-900 shadow-sm placeholder:text-stone-400 focus:border-stone-900 focus:outline-none focus:ring-2 focus:ring-stone-900/15 aria-[invalid=true]:border-red-500 sm:text-sm";

export function TextField({
  label,
  error,
  hint,
  optional,
  ...input
}: InputHTMLAttributes<HTMLInputElement> & { label: string; error?: string; hint?: string; optional?: boolean }) {
  const id = useId();
  const describedBy = [error ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean).join(" ") || undefined;
  return (
    <div>
      <label htmlFor={id} className="block text-sm font-medium text-stone-800">
        {label}
        {optional && <span className="font-normal text-stone-500"> (optional)</span>}
      </label>
      <input id={id} className={fieldInput} aria-invalid={error ? true : undefined} aria-describedby={describedBy} {...input} />
      {hint && !error && (
        <p id={`${id}-hint`} className="mt-1 text-xs text-stone-500">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="mt-1 text-xs font-medium text-red-700">
          {error}
        </p>
      )}
    </div>
  );
}

export function SelectField({
  label,
  error,
  children,
  ...select
}: SelectHTMLAttributes<HTMLSelectElement> & { label: string; error?: string; children: ReactNode }) {
  const id = useId();
  return (
    <div>
      <label htmlFor={id} className="block text-sm font-medium text-stone-800">
        {label}
      </label>
      <select
        id={id}
        className={fieldInput}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        {...select}
      >
        {children}
      </select>
      {error && (
        <p id={`${id}-error`} className="mt-1 text-xs font-medium text-red-700">
          {error}
        </p>
      )}
    </div>
  );
}
