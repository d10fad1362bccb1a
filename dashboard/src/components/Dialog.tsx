// Confirmation dialogs on the native <dialog>: modal, focus kept inside, Escape closes, focus
// returns to the button that opened it.

import { useEffect, useId, useRef, useState, type ReactNode } from "react";

import { Button, ApiErrorAlert, Input } from "./ui";

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  /** The button that closes the dialog without doing anything ("Cancel"). */
  dismissLabel?: string;
  tone?: "danger" | "primary";
  /** The person must type this text to enable the confirmation (irreversible actions). */
  confirmText?: string;
  /**
   * The typed text must be `confirmText` exactly, spaces included (where the API compares it as
   * it is); otherwise surrounding spaces are ignored.
   */
  confirmExact?: boolean;
  /** Problems with the typed text (the API's, in words), shown under its field. */
  confirmErrors?: string[];
  /** Keeps the confirmation disabled (a field of the dialog still needs fixing). */
  blocked?: boolean;
  onConfirm: () => Promise<unknown> | void;
  onClose: () => void;
  /** More about a refusal, under its plain words (operators: the API's own suggestion). */
  errorExtra?: (error: unknown) => ReactNode;
}

export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  dismissLabel = "Cancel",
  tone = "primary",
  confirmText,
  confirmExact = false,
  confirmErrors = [],
  blocked: blockedByCaller = false,
  onConfirm,
  onClose,
  errorExtra,
}: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const inputId = useId();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [typed, setTyped] = useState("");

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      setError(null);
      setTyped("");
      setPending(false);
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open]);

  const confirm = async () => {
    setPending(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (cause) {
      setError(cause);
    } finally {
      setPending(false);
    }
  };

  const blocked =
    blockedByCaller || (confirmText !== undefined && (confirmExact ? typed : typed.trim()) !== confirmText);

  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onClose={onClose}
      onCancel={(event) => {
        if (pending) event.preventDefault();
      }}
      className="m-auto w-[min(28rem,calc(100vw-2rem))] rounded-xl bg-white p-0 text-slate-900 shadow-2xl ring-1 ring-slate-900/10 backdrop:bg-slate-950/40"
    >
      {open ? (
        <form
          method="dialog"
          className="p-5"
          onSubmit={(event) => {
            event.preventDefault();
            if (!blocked && !pending) void confirm();
          }}
        >
          <h2 id={titleId} className="text-base font-semibold">
            {title}
          </h2>
          <div className="mt-2 space-y-2 text-sm text-slate-600">{children}</div>
          {confirmText !== undefined ? (
            <div className="mt-4">
              <label htmlFor={inputId} className="text-sm text-slate-700">
                Type <span className="font-mono font-semibold text-slate-900">{confirmText}</span> to confirm
              </label>
              <Input
                id={inputId}
                className="mt-1.5"
                value={typed}
                onChange={(event) => setTyped(event.target.value)}
                autoComplete="off"
                autoCapitalize="none"
                spellCheck={false}
                autoFocus
                invalid={confirmErrors.length > 0}
                aria-describedby={confirmErrors.length ? `${inputId}-error` : undefined}
                data-testid="confirm-text"
              />
              {confirmErrors.length ? (
                <ul
                  id={`${inputId}-error`}
                  className="mt-1.5 space-y-0.5 text-xs text-rose-700"
                  data-field-errors={inputId}
                >
                  {confirmErrors.map((message) => (
                    <li key={message}>{message}</li>
                  ))}
                </ul>
              ) : null}
            </div>
          ) : null}
          {error ? <ApiErrorAlert error={error} className="mt-4" /> : null}
          {error && errorExtra ? errorExtra(error) : null}
          <div className="mt-5 flex flex-col-reverse gap-2 sm:flex-row sm:justify-end">
            <Button onClick={onClose} disabled={pending} autoFocus={confirmText === undefined}>
              {dismissLabel}
            </Button>
            <Button
              type="submit"
              variant={tone === "danger" ? "danger" : "primary"}
              loading={pending}
              disabled={blocked}
            >
              {confirmLabel}
            </Button>
          </div>
        </form>
      ) : null}
    </dialog>
  );
}
