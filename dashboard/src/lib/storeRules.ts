// Client-side mirror of server/src/store_rules.rs and the create-store checks of
// server/src/api/stores.rs: the same rules and the same messages, so a person sees what the API
// would answer before sending. The API stays the authority; its own messages are shown as sent.

/** Names that would collide with platform hosts or read as official. */
export const RESERVED_NAMES = [
  "admin",
  "api",
  "www",
  "app",
  "mail",
  "smtp",
  "imap",
  "pop",
  "ftp",
  "ssh",
  "git",
  "svn",
  "test",
  "staging",
  "prod",
  "production",
  "dev",
  "development",
  "beta",
  "alpha",
  "demo",
  "preview",
  "internal",
  "status",
  "health",
  "metrics",
  "monitor",
  "logs",
  "audit",
  "kubernetes",
  "k8s",
  "kube",
  "helm",
  "docker",
  "registry",
  "postgres",
  "mysql",
  "redis",
  "mongo",
  "database",
  "db",
  "store",
  "stores",
  "default",
  "system",
  "root",
  "null",
  "undefined",
  "login",
  "register",
  "auth",
  "oauth",
  "sso",
  "cdn",
  "static",
  "assets",
  "public",
  "private",
  "config",
  "settings",
];

/** Words a store name may not contain (matched as substrings). */
export const BLOCKED_WORDS = [
  "fuck",
  "shit",
  "bitch",
  "bastard",
  "cunt",
  "whore",
  "slut",
  "nigger",
  "nigga",
  "faggot",
  "retard",
  "porn",
  "xxx",
  "rape",
  "pedo",
  "nazi",
  "hitler",
  "terrorist",
  "cocaine",
  "heroin",
];

/** Every problem with a store name, in the API's words (empty when it is acceptable). */
export function storeNameProblems(name: string): string[] {
  const problems: string[] = [];
  const length = [...name].length;
  if (length < 3) problems.push("Store name must be at least 3 characters.");
  else if (length > 63) problems.push("Store name must be at most 63 characters (DNS label limit).");
  const shapeOk = /^[a-z0-9-]*$/.test(name) && !name.startsWith("-") && !name.endsWith("-") && !name.includes("--");
  if (!shapeOk) {
    problems.push(
      "Store name must be lowercase letters, digits and single hyphens, not starting or ending with a hyphen.",
    );
  }
  if (RESERVED_NAMES.includes(name)) problems.push("This store name is reserved; choose another.");
  if (BLOCKED_WORDS.some((word) => name.includes(word))) problems.push("Store name contains inappropriate language.");
  return problems;
}

/** Problems with the optional admin password of a new store (empty or undefined: none). */
export function storePasswordProblems(password: string): string[] {
  if (password === "") return [];
  const length = [...password].length;
  if (length < 8 || length > 128) return ["Password must be 8 to 128 characters."];
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(password)) return ["Password must not contain control characters."];
  return [];
}

/** Account password rules of /auth/register and /auth/password. */
export function accountPasswordProblems(password: string): string[] {
  const length = [...password].length;
  if (length < 8) return ["Password must be at least 8 characters."];
  if (length > 128) return ["Password must be at most 128 characters."];
  return [];
}

export function usernameProblems(username: string): string[] {
  const trimmed = username.trim();
  if (trimmed.length < 3 || trimmed.length > 128 || !/^[A-Za-z0-9_-]+$/.test(trimmed)) {
    return ["Username must be 3-128 letters, numbers, hyphens or underscores."];
  }
  return [];
}

export function emailProblems(email: string): string[] {
  const value = email.trim().toLowerCase();
  const at = value.indexOf("@");
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  const ok =
    at > 0 &&
    value.length <= 255 &&
    domain.includes(".") &&
    !domain.startsWith(".") &&
    !domain.endsWith(".") &&
    !domain.includes("@") &&
    !/\s/.test(value) &&
    local.length > 0;
  return ok ? [] : ["Enter a valid e-mail address."];
}

/** Whether `id` has the shape of a store id (`store-` and 8 hex digits). */
export function isStoreId(id: string): boolean {
  return /^store-[0-9a-f]{8}$/.test(id);
}
