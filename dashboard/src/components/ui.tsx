// The dashboard's building blocks: one look for buttons, cards, badges, fields and states.

import {
  forwardRef,
  useId,
  useState,
  type ButtonHTMLAttributes,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
} from "react";
import { Link, type LinkProps } from "react-router";

import { ApiError } from "../api/client";
import { useEngineLabel } from "../api/queries";
import { errorWords } from "../lib/errorWords";
import { shortId } from "../lib/format";
import { IconAlert, IconCheck, IconCopy, IconInfo, IconRefresh } from "./icons";

export function cx(...classes: (string | false | null | undefined)[]): string {
  return classes.filter(Boolean).join(" ");
}

// ---------------------------------------------------------------------------------------------
// Buttons

type Variant = "primary" | "secondary" | "danger" | "ghost" | "danger-outline";
type Size = "sm" | "md";

const VARIANTS: Record<Variant, string> = {
  primary: "bg-indigo-600 text-white shadow-sm hover:bg-indigo-700 disabled:bg-indigo-300",
  secondary:
    "bg-white text-slate-800 shadow-sm ring-1 ring-inset ring-slate-300 hover:bg-slate-50 disabled:text-slate-400",
  danger: "bg-rose-700 text-white shadow-sm hover:bg-rose-800 disabled:bg-rose-300",
  "danger-outline":
    "bg-white text-rose-700 shadow-sm ring-1 ring-inset ring-rose-200 hover:bg-rose-50 disabled:text-rose-300",
  ghost: "text-slate-700 hover:bg-slate-100 disabled:text-slate-400",
};

const SIZES: Record<Size, string> = {
  sm: "h-8 gap-1.5 rounded-md px-2.5 text-sm",
  md: "h-10 gap-2 rounded-lg px-4 text-sm",
};

export function buttonClass(variant: Variant = "secondary", size: Size = "md", extra?: string): string {
  return cx(
    "inline-flex shrink-0 items-center justify-center font-medium whitespace-nowrap transition-colors",
    "focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:cursor-not-allowed",
    VARIANTS[variant],
    SIZES[size],
    extra,
  );
}

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: Variant;
  size?: Size;
  loading?: boolean;
  icon?: ReactNode;
}

export const Button = forwardRef<HTMLButtonElement, ButtonProps>(function Button(
  { variant = "secondary", size = "md", loading = false, icon, className, children, disabled, type, ...rest },
  ref,
) {
  return (
    <button
      ref={ref}
      type={type ?? "button"}
      className={buttonClass(variant, size, className)}
      disabled={disabled || loading}
      aria-busy={loading || undefined}
      {...rest}
    >
      {loading ? <Spinner className="size-4" /> : icon}
      {children}
    </button>
  );
});

export function ButtonLink({
  variant = "secondary",
  size = "md",
  icon,
  className,
  children,
  ...rest
}: LinkProps & { variant?: Variant; size?: Size; icon?: ReactNode }) {
  return (
    <Link className={buttonClass(variant, size, className)} {...rest}>
      {icon}
      {children}
    </Link>
  );
}

// ---------------------------------------------------------------------------------------------
// Layout pieces

export function PageHeader({
  title,
  description,
  actions,
  back,
  badges,
}: {
  title: ReactNode;
  description?: ReactNode;
  actions?: ReactNode;
  back?: ReactNode;
  badges?: ReactNode;
}) {
  return (
    <div className="mb-6">
      {back ? <div className="mb-3">{back}</div> : null}
      <div className="flex flex-col gap-4 sm:flex-row sm:items-start sm:justify-between">
        <div className="min-w-0">
          <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
            <h1 className="truncate text-2xl font-semibold tracking-tight text-slate-900">{title}</h1>
            {badges}
          </div>
          {description ? <div className="mt-1 text-sm text-slate-600">{description}</div> : null}
        </div>
        {actions ? <div className="flex flex-wrap items-center gap-2">{actions}</div> : null}
      </div>
    </div>
  );
}

export function Card({
  title,
  description,
  actions,
  children,
  className,
  bodyClassName,
  id,
}: {
  title?: ReactNode;
  description?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  bodyClassName?: string;
  id?: string;
}) {
  const headingId = useId();
  return (
    <section
      id={id}
      aria-labelledby={title ? headingId : undefined}
      className={cx("rounded-xl border border-slate-200 bg-white shadow-xs", className)}
    >
      {title || actions ? (
        <div className="flex flex-wrap items-center justify-between gap-3 border-b border-slate-100 px-5 py-3.5">
          <div className="min-w-0">
            {title ? (
              <h2 id={headingId} className="text-sm font-semibold text-slate-900">
                {title}
              </h2>
            ) : null}
            {description ? <p className="mt-0.5 text-xs text-slate-500">{description}</p> : null}
          </div>
          {actions ? <div className="flex items-center gap-2">{actions}</div> : null}
        </div>
      ) : null}
      <div className={bodyClassName ?? "px-5 py-4"}>{children}</div>
    </section>
  );
}

/** A definition list of label/value rows. */
export function Details({ items }: { items: { label: ReactNode; value: ReactNode; hidden?: boolean }[] }) {
  return (
    <dl className="divide-y divide-slate-100 text-sm">
      {items
        .filter((item) => !item.hidden)
        .map((item, i) => (
          <div key={i} className="flex items-baseline justify-between gap-4 py-2 first:pt-0 last:pb-0">
            <dt className="shrink-0 text-slate-500">{item.label}</dt>
            <dd className="min-w-0 text-right break-words text-slate-900">{item.value}</dd>
          </div>
        ))}
    </dl>
  );
}

// ---------------------------------------------------------------------------------------------
// Badges

export type Tone = "gray" | "blue" | "green" | "red" | "amber" | "indigo" | "violet" | "teal" | "fuchsia";

const TONES: Record<Tone, string> = {
  gray: "bg-slate-100 text-slate-700 ring-slate-500/15",
  blue: "bg-sky-50 text-sky-800 ring-sky-600/20",
  green: "bg-emerald-50 text-emerald-800 ring-emerald-600/20",
  red: "bg-rose-50 text-rose-800 ring-rose-600/20",
  amber: "bg-amber-50 text-amber-800 ring-amber-600/25",
  indigo: "bg-indigo-50 text-indigo-800 ring-indigo-600/20",
  violet: "bg-violet-50 text-violet-800 ring-violet-600/20",
  teal: "bg-teal-50 text-teal-800 ring-teal-600/20",
  fuchsia: "bg-fuchsia-50 text-fuchsia-800 ring-fuchsia-600/20",
};

const DOTS: Record<Tone, string> = {
  gray: "bg-slate-400",
  blue: "bg-sky-500",
  green: "bg-emerald-500",
  red: "bg-rose-500",
  amber: "bg-amber-500",
  indigo: "bg-indigo-500",
  violet: "bg-violet-500",
  teal: "bg-teal-500",
  fuchsia: "bg-fuchsia-500",
};

export function Badge({
  tone = "gray",
  dot = false,
  pulse = false,
  children,
  className,
  title,
}: {
  tone?: Tone;
  dot?: boolean;
  pulse?: boolean;
  children: ReactNode;
  className?: string;
  title?: string;
}) {
  return (
    <span
      title={title}
      className={cx(
        "inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap ring-1 ring-inset",
        TONES[tone],
        className,
      )}
    >
      {dot ? (
        <span className="relative flex size-1.5">
          {pulse ? (
            <span className={cx("absolute inline-flex size-full animate-ping rounded-full opacity-75", DOTS[tone])} />
          ) : null}
          <span className={cx("relative inline-flex size-1.5 rounded-full", DOTS[tone])} />
        </span>
      ) : null}
      {children}
    </span>
  );
}

// ---------------------------------------------------------------------------------------------
// Form fields

export function Field({
  label,
  hint,
  errors,
  children,
  htmlFor,
  optional,
}: {
  label: ReactNode;
  hint?: ReactNode;
  errors?: string[];
  children: ReactNode;
  htmlFor: string;
  optional?: boolean;
}) {
  return (
    <div>
      <label htmlFor={htmlFor} className="flex items-baseline justify-between text-sm font-medium text-slate-800">
        <span>{label}</span>
        {optional ? <span className="text-xs font-normal text-slate-500">Optional</span> : null}
      </label>
      <div className="mt-1.5">{children}</div>
      {hint && !errors?.length ? (
        <p id={`${htmlFor}-hint`} className="mt-1.5 text-xs text-slate-500">
          {hint}
        </p>
      ) : null}
      {errors?.length ? (
        <ul id={`${htmlFor}-error`} className="mt-1.5 space-y-0.5 text-xs text-rose-700" data-field-errors={htmlFor}>
          {errors.map((error) => (
            <li key={error} className="flex gap-1">
              <IconAlert className="mt-px size-3.5 shrink-0" />
              <span>{error}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

const inputBase =
  "block w-full rounded-lg border-0 bg-white px-3 text-sm text-slate-900 shadow-xs ring-1 ring-inset placeholder:text-slate-500 focus:ring-2 focus:ring-inset focus:outline-none disabled:bg-slate-50 disabled:text-slate-500";

export function inputClass(invalid = false, extra?: string) {
  return cx(
    inputBase,
    "h-10",
    invalid ? "ring-rose-400 focus:ring-rose-500" : "ring-slate-300 focus:ring-indigo-600",
    extra,
  );
}

export const Input = forwardRef<HTMLInputElement, InputHTMLAttributes<HTMLInputElement> & { invalid?: boolean }>(
  function Input({ invalid, className, id, ...rest }, ref) {
    return (
      <input
        ref={ref}
        id={id}
        className={inputClass(invalid, className)}
        aria-invalid={invalid || undefined}
        aria-describedby={id ? (invalid ? `${id}-error` : `${id}-hint`) : undefined}
        {...rest}
      />
    );
  },
);

export function Select({ className, ...rest }: SelectHTMLAttributes<HTMLSelectElement>) {
  return <select className={cx(inputClass(false), "pr-8", className)} {...rest} />;
}

// ---------------------------------------------------------------------------------------------
// States

export function Spinner({ className = "size-5", label }: { className?: string; label?: string }) {
  return (
    <svg
      className={cx("animate-spin", className)}
      viewBox="0 0 24 24"
      fill="none"
      role={label ? "status" : undefined}
      aria-label={label}
      aria-hidden={label ? undefined : true}
    >
      <circle cx="12" cy="12" r="9" stroke="currentColor" strokeOpacity="0.2" strokeWidth="3" />
      <path d="M21 12a9 9 0 0 0-9-9" stroke="currentColor" strokeWidth="3" strokeLinecap="round" />
    </svg>
  );
}

export function Skeleton({ className }: { className?: string }) {
  return <div className={cx("animate-pulse rounded-md bg-slate-200/70", className)} />;
}

export function LoadingBlock({ label = "Loading…", rows = 3 }: { label?: string; rows?: number }) {
  return (
    <div role="status" aria-live="polite" className="space-y-3 py-2">
      <span className="sr-only">{label}</span>
      {Array.from({ length: rows }, (_, i) => (
        <Skeleton key={i} className={cx("h-4", i % 3 === 2 ? "w-2/3" : i % 2 ? "w-5/6" : "w-full")} />
      ))}
    </div>
  );
}

export function EmptyState({
  icon,
  title,
  children,
  action,
}: {
  icon?: ReactNode;
  title: ReactNode;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <div className="flex flex-col items-center px-6 py-12 text-center">
      {icon ? (
        <div className="mb-3 flex size-11 items-center justify-center rounded-full bg-slate-100 text-slate-500">
          {icon}
        </div>
      ) : null}
      <h3 className="text-sm font-semibold text-slate-900">{title}</h3>
      {children ? <div className="mt-1 max-w-md text-sm text-slate-600">{children}</div> : null}
      {action ? <div className="mt-5">{action}</div> : null}
    </div>
  );
}

type AlertTone = "info" | "warning" | "danger" | "success";

const ALERT: Record<AlertTone, string> = {
  info: "bg-sky-50 text-sky-900 ring-sky-200",
  warning: "bg-amber-50 text-amber-900 ring-amber-200",
  danger: "bg-rose-50 text-rose-900 ring-rose-200",
  success: "bg-emerald-50 text-emerald-900 ring-emerald-200",
};

export function Alert({
  tone = "info",
  title,
  children,
  action,
  className,
  role,
}: {
  tone?: AlertTone;
  title?: ReactNode;
  children?: ReactNode;
  action?: ReactNode;
  className?: string;
  role?: "alert" | "status";
}) {
  const Icon = tone === "success" ? IconCheck : tone === "info" ? IconInfo : IconAlert;
  return (
    <div role={role} className={cx("flex gap-3 rounded-lg p-3.5 text-sm ring-1 ring-inset", ALERT[tone], className)}>
      <Icon className="mt-0.5 size-4 shrink-0" />
      <div className="min-w-0 flex-1">
        {title ? <p className="font-medium">{title}</p> : null}
        {children ? <div className={cx("break-words", title ? "mt-1" : "")}>{children}</div> : null}
        {action ? <div className="mt-2.5">{action}</div> : null}
      </div>
    </div>
  );
}

/**
 * An API error in plain words (`errorWords`: the error code's own words, never the API's
 * developer hints), what to do about it, and the request id for support.
 */
export function ApiErrorAlert({
  error,
  title,
  onRetry,
  action,
  className,
}: {
  error: unknown;
  title?: ReactNode;
  onRetry?: () => void;
  action?: ReactNode;
  className?: string;
}) {
  const apiError = error instanceof ApiError ? error : null;
  const words = errorWords(error, useEngineLabel());
  const message = words.title;
  return (
    <Alert
      tone="danger"
      role="alert"
      className={className}
      title={title ?? message}
      action={
        onRetry ? (
          <Button size="sm" onClick={onRetry} icon={<IconRefresh className="size-3.5" />}>
            Try again
          </Button>
        ) : (
          action
        )
      }
    >
      {title ? <p data-testid="error-message">{message}</p> : null}
      {words.hint ? <p data-testid="error-suggestion">{words.hint}</p> : null}
      {apiError?.retryAfterSeconds && !/try again in/i.test(words.hint ?? "") ? (
        <p>You can try again in {apiError.retryAfterSeconds} s.</p>
      ) : null}
      {words.requestId ? (
        <p className="mt-1 text-xs" data-testid="error-request-id">
          Support reference: <span className="font-mono select-all">{words.requestId}</span>
        </p>
      ) : null}
    </Alert>
  );
}

/** Copies `value` to the clipboard and says so; an icon, or a labelled button with `text`. */
export function CopyButton({
  value,
  label = "Copy",
  text,
  className,
}: {
  value: string;
  label?: string;
  /** A visible label ("Copy"), for copies that matter (a link shown once). */
  text?: string;
  className?: string;
}) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // Clipboard API unavailable (plain http, old browser): select-and-copy fallback.
      const area = document.createElement("textarea");
      area.value = value;
      area.setAttribute("readonly", "");
      area.className = "fixed -left-full";
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  const icon = copied ? <IconCheck className="size-3.5 text-emerald-600" /> : <IconCopy className="size-3.5" />;
  if (text) {
    return (
      <Button size="sm" onClick={copy} className={className} aria-label={copied ? `${label}: copied` : label} icon={icon}>
        {copied ? "Copied" : text}
      </Button>
    );
  }
  return (
    <Button
      size="sm"
      variant="ghost"
      onClick={copy}
      className={cx("px-2", className)}
      aria-label={copied ? `${label}: copied` : label}
      title={label}
      icon={icon}
    >
      <span className="sr-only" aria-live="polite">
        {copied ? "Copied" : ""}
      </span>
    </Button>
  );
}

/**
 * A UUID in its short form (the last 8 hex digits: see `shortId`), the whole id on hover, and a
 * button that copies the whole id.
 */
export function ShortId({ id, label = "Copy the full id", className }: { id: string; label?: string; className?: string }) {
  return (
    <span className={cx("inline-flex items-center", className)}>
      <span className="font-mono text-xs text-slate-600" title={id} data-full-id={id}>
        {shortId(id)}
      </span>
      <CopyButton value={id} label={label} className="-my-1" />
    </span>
  );
}

/** A small monospace id. */
export function Mono({ children, className }: { children: ReactNode; className?: string }) {
  return <span className={cx("font-mono text-[0.8125rem] text-slate-600", className)}>{children}</span>;
}

/** Pretty JSON in a scrollable block (values arrive already redacted by the API). */
export function JsonBlock({ value, label }: { value: unknown; label?: string }) {
  const text = value === undefined ? "—" : JSON.stringify(value, null, 2);
  return (
    <pre
      aria-label={label}
      tabIndex={0}
      className="max-h-96 overflow-auto rounded-lg bg-slate-950 p-3 font-mono text-xs leading-relaxed text-slate-100 focus-visible:outline-2 focus-visible:outline-indigo-500"
    >
      {text}
    </pre>
  );
}
