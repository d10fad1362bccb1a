import { describe, expect, it } from "vitest";

import { ApiError, errorFromResponse, networkError } from "../api/client";
import { errorWords } from "./errorWords";
import { isDeveloperText, plainFieldMessage } from "./plainText";

function envelope(status: number, error: Record<string, unknown>, requestId = "req_40163b0f640d"): Response {
  return new Response(JSON.stringify({ requestId, error }), {
    status,
    headers: { "content-type": "application/json" },
  });
}

describe("errorWords", () => {
  it("turns a wrong password into plain words and keeps the request id", async () => {
    // The API's answer, as `storeflow up` sends it.
    const error = await errorFromResponse(
      envelope(401, {
        code: "INVALID_CREDENTIALS",
        message: "Invalid email or password.",
        retryable: false,
        suggestion: "Log in again to get a fresh token, then send it as `Authorization: Bearer <token>`.",
      }),
    );
    const words = errorWords(error);
    expect(words.title).toBe("Wrong e-mail or password.");
    expect(words.hint).toBe("Check both and try again.");
    expect(words.requestId).toBe("req_40163b0f640d");
    expect(`${words.title} ${words.hint}`).not.toMatch(/[`]|Bearer|Authorization/);
  });

  it("has tenant words for every code the API sends to tenants", () => {
    const codes = [
      "INVALID_CREDENTIALS",
      "ACCOUNT_LOCKED",
      "LOGIN_RATE_LIMITED",
      "REGISTRATION_RATE_LIMITED",
      "PASSWORD_CHANGE_RATE_LIMITED",
      "INVALID_PASSWORD",
      "ACCOUNT_DISABLED",
      "REGISTRATION_CLOSED",
      "INVALID_INVITATION",
      "INVALID_RESET_LINK",
      "RESET_RATE_LIMITED",
      "UNAUTHORIZED",
      "FORBIDDEN",
      "STORE_NOT_FOUND",
      "NOT_FOUND",
      "RETRY_LIMIT_REACHED",
      "IDEMPOTENCY_KEY_REUSED",
      "CREDENTIALS_UNAVAILABLE",
      "RATE_LIMIT_EXCEEDED",
      "SERVICE_UNAVAILABLE",
      "DATABASE_UNAVAILABLE",
      "INTERNAL_ERROR",
      "REQUEST_TIMEOUT",
      "MALFORMED_JSON",
      "URI_TOO_LONG",
      "HEADERS_TOO_LARGE",
      "BACKUP_IN_PROGRESS",
      "BACKUPS_NOT_CONFIGURED",
      "BACKUP_NOT_SUPPORTED",
      "RESTORE_NOT_SUPPORTED",
      "BACKUP_NOT_RESTORABLE",
      "BACKUP_NOT_FOUND",
    ];
    for (const code of codes) {
      const words = errorWords(
        new ApiError({
          status: 400,
          code,
          message: "Developer text: send `X-Thing` to GET /api/v1/openapi.json.",
          suggestion: "Set STOREFLOW_ENCRYPTION_KEY, then `Authorization: Bearer <token>`.",
          retryAfterSeconds: 120,
        }),
      );
      expect(isDeveloperText(words.title), `${code}: ${words.title}`).toBe(false);
      expect(isDeveloperText(words.hint), `${code}: ${words.hint}`).toBe(false);
    }
    expect(errorWords(new ApiError({ status: 423, code: "ACCOUNT_LOCKED", message: "x", retryAfterSeconds: 600 })).hint).toBe(
      "Try again in 10 minutes.",
    );
  });

  it("keeps the API's own words for other codes when they are plain, and drops developer hints", () => {
    const taken = errorWords(
      new ApiError({
        status: 409,
        code: "STORE_NAME_TAKEN",
        message: "A store named 'spring-shop' already exists (status: ready).",
        suggestion: "Use a different name, or delete the existing store first.",
      }),
    );
    expect(taken.title).toBe("A store named 'spring-shop' already exists (status: ready).");
    expect(taken.hint).toBe("Use a different name, or delete the existing store first.");

    const unknown = errorWords(
      new ApiError({
        status: 409,
        code: "SOMETHING_NEW",
        message: "The store is busy.",
        suggestion: "Retry with the same `Idempotency-Key` header.",
      }),
    );
    expect(unknown.title).toBe("The store is busy.");
    expect(unknown.hint).toBeUndefined();

    const developer = errorWords(new ApiError({ status: 400, code: "SOMETHING_ELSE", message: "`limit` must be 1..=100" }));
    expect(developer.title).toBe("Limit must be 1..=100");
  });

  it("words validation answers without backticked field names", () => {
    const words = errorWords(
      new ApiError({
        status: 400,
        code: "VALIDATION_ERROR",
        message: "`email` must be a valid e-mail address.",
        suggestion: "Check the request parameters and try again.",
        details: [{ field: "email", message: "`email` must be a valid e-mail address." }],
      }),
    );
    expect(words.title).toBe("Enter a valid e-mail address.");
    expect(words.hint).toBe("See the highlighted fields.");
  });

  it("words network failures, answers that are not JSON, and other errors", async () => {
    expect(errorWords(networkError(new TypeError("Failed to fetch"))).title).toBe("storeflow cannot be reached.");
    const proxy = await errorFromResponse(new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    expect(errorWords(proxy).title).toBe("storeflow answered with an error (502).");
    expect(errorWords(new Error("boom")).title).toBe("Something went wrong.");
  });
});

describe("backup refusals", () => {
  // As `storeflow up` answered them (simulated cluster).
  it("says a backup is already running, without the API's route", async () => {
    const error = await errorFromResponse(
      envelope(409, {
        code: "BACKUP_IN_PROGRESS",
        message: "A backup of this store is already running.",
        retryable: false,
        suggestion: "Follow it with GET /api/v1/backups/{id}; start another once it has finished.",
        details: { backupId: "01a241db-4c83-763b-8564-69e56276b6bb" },
      }),
    );
    const words = errorWords(error);
    expect(words.title).toBe("A backup of this store is already running.");
    expect(words.hint).toBe("It is in the store's list of backups; start another once it has finished.");
  });

  it("says a running backup holds a restore back, in other words than a second backup", async () => {
    const error = await errorFromResponse(
      envelope(409, {
        code: "BACKUP_IN_PROGRESS",
        message: "A backup of this store is running; the store cannot be restored until it has finished.",
        retryable: false,
        suggestion: "Follow it with GET /api/v1/backups/{id}, then restore.",
        details: { backupId: "01a241db-4c83-763b-8564-69e56276b6bb" },
      }),
    );
    const words = errorWords(error);
    expect(words.title).toBe("A backup of this store is running: the store can be restored once it has finished.");
    expect(isDeveloperText(words.hint)).toBe(false);
  });

  it("words a restore of another owner's backup and a store that is already restoring", async () => {
    const other = await errorFromResponse(
      envelope(409, {
        code: "BACKUP_OF_ANOTHER_OWNER",
        message: "Backup 01a241db-4c83-763b-8564-69e56276b6bb belongs to another owner than this store's.",
        retryable: false,
        suggestion: "Restore it into a new store of its owner (POST /api/v1/stores with restoreFrom) instead.",
      }),
    );
    expect(errorWords(other).title).toBe(
      "This backup belongs to another owner than this store's, so it cannot be restored into it.",
    );
    expect(isDeveloperText(errorWords(other).hint)).toBe(false);
    const restoring = await errorFromResponse(
      envelope(409, {
        code: "INVALID_STORE_STATE",
        message: "Store is already being restored.",
        retryable: false,
        suggestion: "Follow the restore's progress on the store.",
        details: { status: "restoring" },
      }),
    );
    expect(errorWords(restoring)).toMatchObject({
      title: "Store is already being restored.",
      hint: "Follow the restore's progress on the store.",
    });
  });

  it("names the engine that cannot be backed up, and keeps the plain suggestion", async () => {
    const error = await errorFromResponse(
      envelope(409, {
        code: "BACKUP_NOT_SUPPORTED",
        message: "Stores of engine 'medusa' cannot be backed up by storeflow yet.",
        retryable: false,
        suggestion: "Back the store's database up with the engine's own tools for now.",
      }),
    );
    const label = (engine: string) => (engine === "medusa" ? "MedusaJS" : engine);
    expect(errorWords(error, label)).toMatchObject({
      title: "MedusaJS stores cannot be backed up by the platform yet.",
      hint: "Back the store's database up with the engine's own tools for now.",
    });
    // Without the registry's labels (not answered yet), by its name.
    expect(errorWords(error).title).toBe("medusa stores cannot be backed up by the platform yet.");
  });

  it("says so when the platform has nowhere to store backups, without its settings", async () => {
    const error = await errorFromResponse(
      envelope(503, {
        code: "BACKUPS_NOT_CONFIGURED",
        message: "Backups are not configured on this platform: there is no bucket to store them in.",
        retryable: true,
        suggestion:
          "Ask an operator to set backups.bucket in the storeflow chart (BACKUP_S3_BUCKET and its credentials for the workers), then try again.",
      }),
    );
    const words = errorWords(error);
    expect(words.title).toBe("Backups are not set up on this platform yet: there is nowhere to store them.");
    expect(words.hint).toBe("Ask your platform's administrators to set up backup storage.");
  });

  it("says why a backup cannot be restored", async () => {
    const running = await errorFromResponse(
      envelope(409, {
        code: "BACKUP_NOT_RESTORABLE",
        message: "Backup 01a241db-4c83-763b-8564-69e56276b6bb is running, not complete.",
        retryable: false,
        suggestion: "Restore a complete backup: GET /api/v1/backups?status=complete lists them.",
        details: { status: "running" },
      }),
    );
    expect(errorWords(running)).toMatchObject({
      title: "This backup is still running: it can be restored once it is complete.",
      hint: "Choose a complete backup.",
    });
    const missing = await errorFromResponse(
      envelope(404, {
        code: "BACKUP_NOT_FOUND",
        message: "Backup 01a21c52-bc79-701c-afd7-acd811c4bd87 was not found.",
        retryable: false,
        suggestion: "List the backups you can see with GET /api/v1/backups.",
      }),
    );
    expect(errorWords(missing).title).toBe("This backup no longer exists, or it is not yours.");
    expect(isDeveloperText(errorWords(missing).hint)).toBe(false);
  });
});

describe("plainFieldMessage", () => {
  it("replaces the API's field names with their labels", () => {
    expect(plainFieldMessage("`email` is required.")).toBe("E-mail is required.");
    expect(plainFieldMessage("`currentPassword` is required.")).toBe("Current password is required.");
    expect(plainFieldMessage("`email` must be a valid e-mail address.")).toBe("Enter a valid e-mail address.");
    expect(plainFieldMessage("Password must be at least 8 characters.")).toBe("Password must be at least 8 characters.");
  });

  it("is what ApiError.messagesFor returns", () => {
    const error = new ApiError({
      status: 400,
      code: "VALIDATION_ERROR",
      message: "x",
      details: [{ field: "username", message: "`username` is required." }],
    });
    expect(error.messagesFor("username")).toEqual(["Username is required."]);
  });
});
