// API errors in the words of the people using the dashboard. The API's envelope
// `{requestId, error: {code, message, suggestion?, retryAfterSeconds?, ...}}` is written for API
// clients: its suggestions name headers and routes ("send it as `Authorization: Bearer
// <token>`"). Known codes get their own words; for the others the API's message and suggestion
// are kept only when they read as plain words. The request id stays, for support.

import { ApiError } from "../api/client";
import { isDeveloperText, plainFieldMessage } from "./plainText";

export interface ErrorWords {
  /** One sentence: what happened. */
  title: string;
  /** What to do about it, if anything useful can be said. */
  hint?: string;
  /** The API's request id, for support. */
  requestId?: string;
  code: string;
}

function minutes(seconds: number | undefined): string | undefined {
  if (!seconds) return undefined;
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const m = Math.ceil(seconds / 60);
  return `${m} minute${m === 1 ? "" : "s"}`;
}

function waitHint(error: ApiError, fallback: string): string {
  const wait = minutes(error.retryAfterSeconds);
  return wait ? `Try again in ${wait}.` : fallback;
}

type Words = { title: string; hint?: string };

/** The API's message when it reads as plain words, else `fallback`. */
function plainOr(message: string, fallback: string): string {
  const text = plainFieldMessage(message);
  return text && !isDeveloperText(text) ? text : fallback;
}

/** "WooCommerce" from the API's "Stores of engine 'woocommerce' …". */
function engineOf(message: string, label: EngineLabel): string {
  const engine = /engine '([^']+)'/.exec(message)?.[1];
  return engine ? label(engine) : "These";
}

/** The API's suggestion when it reads as plain words. */
function plainSuggestion(error: ApiError): string | undefined {
  return error.suggestion && !isDeveloperText(error.suggestion) ? error.suggestion : undefined;
}

/** An engine's label by its name (`useEngineLabel`); the name itself where none is at hand. */
export type EngineLabel = (engine: string) => string;

/** Codes whose own message and suggestion are not for tenants. */
const WORDS: Record<string, (error: ApiError, engineLabel: EngineLabel) => Words> = {
  INVALID_CREDENTIALS: () => ({
    title: "Wrong e-mail or password.",
    hint: "Check both and try again.",
  }),
  ACCOUNT_LOCKED: (e) => ({
    title: "Too many wrong passwords: signing in to this account is paused for now.",
    hint: waitHint(e, "Try again in a few minutes."),
  }),
  LOGIN_RATE_LIMITED: (e) => ({
    title: "Too many sign-in attempts.",
    hint: waitHint(e, "Wait a moment, then try again."),
  }),
  REGISTRATION_RATE_LIMITED: (e) => ({
    title: "Too many new accounts from your network.",
    hint: waitHint(e, "Wait a while before creating another account."),
  }),
  PASSWORD_CHANGE_RATE_LIMITED: (e) => ({
    title: "Too many password changes.",
    hint: waitHint(e, "Wait a moment, then try again."),
  }),
  INVALID_PASSWORD: () => ({
    title: "The current password is wrong.",
    hint: "Check it and try again.",
  }),
  ACCOUNT_DISABLED: () => ({
    title: "This account is disabled.",
    hint: "Its stores keep running. Ask your platform's administrators to enable it again.",
  }),
  REGISTRATION_CLOSED: () => ({
    title: "Registration is by invitation only.",
    hint: "Ask your platform's administrators for an invitation link, then register from it.",
  }),
  INVALID_INVITATION: () => ({
    title: "This invitation link does not work: it was already used, has expired, or is incomplete.",
    hint: "Ask your platform's administrators for a new one.",
  }),
  INVALID_RESET_LINK: () => ({
    title: "This password-reset link does not work: it was already used, has expired, or is incomplete.",
    hint: "Ask your platform's administrators for a new one.",
  }),
  RESET_RATE_LIMITED: (e) => ({
    title: "Too many password resets from your network.",
    hint: waitHint(e, "Wait a moment, then try again."),
  }),
  UNAUTHORIZED: () => ({
    title: "Your session has ended.",
    hint: "Sign in again to carry on.",
  }),
  FORBIDDEN: () => ({
    title: "You are not allowed to do this.",
    hint: "Only the platform's administrators can.",
  }),
  OWNER_CHOOSES_PASSWORD: () => ({
    title: "Only the store's owner can choose its new admin password.",
    hint: "Leave the password out: a new one is generated, and only the owner sees it.",
  }),
  VALIDATION_ERROR: (e) => ({
    title: e.fieldProblems.length > 1 ? "Some details need fixing." : plainFieldMessage(e.message),
    hint: e.fieldProblems.length ? "See the highlighted fields." : undefined,
  }),
  STORE_NOT_FOUND: () => ({
    title: "This store does not exist, or it is not yours.",
  }),
  NOT_FOUND: () => ({
    title: "This page does not exist.",
  }),
  // Upgrades: the API's message is plain (it names the versions); its suggestion names settings
  // and request bodies, which the dialog shows operators apart.
  UPGRADE_NOT_ALLOWED: (e) => ({
    title: plainOr(e.message, "Store upgrades are started by operators on this platform."),
    hint: "Ask your platform's administrators to upgrade this store.",
  }),
  UP_TO_DATE: (e) => ({
    title: plainOr(e.message, "The store already runs this version."),
    hint: "Nothing to upgrade: reload the page to see its versions.",
  }),
  UPGRADE_NOT_SUPPORTED: (e) => ({
    title: plainOr(e.message, "This store cannot be upgraded in place."),
    hint: e.suggestion && !isDeveloperText(e.suggestion) ? e.suggestion : undefined,
  }),
  CHART_UNKNOWN: (e) => ({
    title: plainOr(e.message, "The platform does not know which version to upgrade to."),
    hint: "Ask your platform's administrators: the server cannot read its store chart.",
  }),
  // Fleet rollouts (operators): the page links the running rollout itself.
  ROLLOUT_IN_PROGRESS: () => ({
    title: "Another rollout is still running: only one runs at a time.",
    hint: "Wait for it to finish, or cancel it from its page.",
  }),
  NOTHING_TO_UPGRADE: (e) => {
    const target = /chart (\S+) \(app ([^)]+)\)/.exec(e.message);
    return {
      title: target
        ? `Nothing to upgrade: every ready store that matches runs chart ${target[1]} (app ${target[2]}) already.`
        : "Nothing to upgrade: every ready store that matches runs the target version already.",
      hint: "Stores that are not ready right now (being created or upgraded, or failed) are left out: start a rollout again once they are ready.",
    };
  },
  ROLLOUT_NOT_HALTED: () => ({
    title: "This rollout is not halted, so there is nothing to resume.",
    hint: "It may have been resumed or have finished meanwhile: the page shows where it stands now.",
  }),
  INVALID_RUN_STATE: (e) =>
    /already finished/i.test(e.message)
      ? {
          title: "It has finished already: there is nothing left to cancel.",
          hint: "The page shows how it ended.",
        }
      : { title: plainOr(e.message, "This cannot be done in the state it is in now."), hint: "Reload the page to see where it stands." },
  // Backups: the API's suggestions name routes (`GET /api/v1/backups/{id}`).
  // The same code refuses a second backup and a restore while a backup runs.
  BACKUP_IN_PROGRESS: (e) =>
    /restored/i.test(e.message)
      ? {
          title: "A backup of this store is running: the store can be restored once it has finished.",
          hint: "It is in the store's list of backups, which shows when it is complete.",
        }
      : {
          title: "A backup of this store is already running.",
          hint: "It is in the store's list of backups; start another once it has finished.",
        },
  // Operators only: a backup of one owner's store restored into another owner's store.
  BACKUP_OF_ANOTHER_OWNER: () => ({
    title: "This backup belongs to another owner than this store's, so it cannot be restored into it.",
    hint: "Restore it into a new store instead, from the Backups page.",
  }),
  // 503 when the platform has no backup bucket (its suggestion names settings).
  BACKUPS_NOT_CONFIGURED: () => ({
    title: "Backups are not set up on this platform yet: there is nowhere to store them.",
    hint: "Ask your platform's administrators to set up backup storage.",
  }),
  BACKUP_NOT_SUPPORTED: (e, label) => ({
    title: `${engineOf(e.message, label)} stores cannot be backed up by the platform yet.`,
    hint: plainSuggestion(e),
  }),
  RESTORE_NOT_SUPPORTED: (e, label) => ({
    title: `${engineOf(e.message, label)} stores cannot be restored by the platform yet.`,
    hint: plainSuggestion(e),
  }),
  BACKUP_NOT_RESTORABLE: (e) => {
    const status = (e.details as { status?: unknown } | null | undefined)?.status;
    return {
      title:
        status === "running"
          ? "This backup is still running: it can be restored once it is complete."
          : status === "failed"
            ? "This backup failed, so there is nothing to restore from it."
            : "Only a complete backup can be restored.",
      hint: "Choose a complete backup.",
    };
  },
  BACKUP_NOT_FOUND: () => ({
    title: "This backup no longer exists, or it is not yours.",
    hint: "Scheduled backups are removed by the store's retention; the list of backups shows the ones kept.",
  }),
  RETRY_LIMIT_REACHED: () => ({
    title: "This store has been retried as often as allowed.",
    hint: "Delete it and create it again, or ask your platform's administrators to look at it.",
  }),
  IDEMPOTENCY_KEY_REUSED: () => ({
    title: "This request was already sent with other details.",
    hint: "Try again.",
  }),
  CREDENTIALS_UNAVAILABLE: () => ({
    title: "The store's admin password cannot be read right now.",
    hint: "Ask your platform's administrators.",
  }),
  RATE_LIMIT_EXCEEDED: (e) => ({
    title: "Too many requests in a short time.",
    hint: waitHint(e, "Wait a moment, then try again."),
  }),
  SERVICE_UNAVAILABLE: () => ({
    title: "storeflow is not available right now.",
    hint: "Try again in a few seconds.",
  }),
  DATABASE_UNAVAILABLE: () => ({
    title: "storeflow is not available right now.",
    hint: "Try again in a few seconds.",
  }),
  INTERNAL_ERROR: () => ({
    title: "Something went wrong on our side.",
    hint: "Try again later. If it keeps happening, contact support with the reference below.",
  }),
  REQUEST_TIMEOUT: () => ({
    title: "That took too long.",
    hint: "Try again.",
  }),
  NETWORK_ERROR: () => ({
    title: "storeflow cannot be reached.",
    hint: "Check your connection, then try again.",
  }),
};

/** Codes about a malformed request: the dashboard's fault, never the person's. */
const REQUEST_PROBLEMS = new Set([
  "BAD_REQUEST",
  "MALFORMED_JSON",
  "MALFORMED_REQUEST",
  "UNSUPPORTED_MEDIA_TYPE",
  "PAYLOAD_TOO_LARGE",
  "METHOD_NOT_ALLOWED",
  "URI_TOO_LONG",
  "HEADERS_TOO_LARGE",
  "REQUEST_REFUSED",
  "HTTP_VERSION_NOT_SUPPORTED",
]);

/**
 * The plain words for an error (an ApiError, any other Error, anything). `engineLabel` names an
 * engine the error mentions (`useEngineLabel`); by its name without it.
 */
export function errorWords(error: unknown, engineLabel: EngineLabel = (engine) => engine): ErrorWords {
  if (!(error instanceof ApiError)) {
    return { title: "Something went wrong.", hint: "Try again.", code: "UNKNOWN" };
  }
  const base = { requestId: error.requestId, code: error.code };
  const known = WORDS[error.code];
  if (known) return { ...known(error, engineLabel), ...base };
  if (REQUEST_PROBLEMS.has(error.code)) {
    return { title: "This request could not be handled.", hint: "Reload the page and try again.", ...base };
  }
  if (/^HTTP_\d+$/.test(error.code)) {
    return {
      title: `storeflow answered with an error (${error.status}).`,
      hint: "Try again in a moment.",
      ...base,
    };
  }
  // Other codes (a store name taken, a store limit, a state conflict): the API's own words when
  // they are plain, something general otherwise.
  const message = plainFieldMessage(error.message);
  return {
    title: isDeveloperText(message) ? "The request could not be completed." : message,
    hint: error.suggestion && !isDeveloperText(error.suggestion) ? error.suggestion : undefined,
    ...base,
  };
}
