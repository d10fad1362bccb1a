// Text from the API written for developers (field names in backticks, HTTP headers, routes),
// recognised and reworded for the people using the dashboard.

/** The words for the API's field names. */
export const FIELD_LABELS: Record<string, string> = {
  email: "E-mail",
  password: "Password",
  username: "Username",
  currentPassword: "Current password",
  newPassword: "New password",
  name: "Store name",
  engine: "Engine",
  theme: "Theme",
};

function fieldLabel(field: string): string {
  const known = FIELD_LABELS[field];
  if (known) return known;
  const words = field
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .replace(/[_-]+/g, " ")
    .toLowerCase()
    .trim();
  return words ? words[0].toUpperCase() + words.slice(1) : field;
}

/** Whether text is meant for a developer: code in backticks, routes, headers, variables, tools. */
export function isDeveloperText(text: string | null | undefined): boolean {
  if (!text) return false;
  return /`|\/api\/|\b(GET|POST|PATCH|PUT|DELETE) \/|authorization|bearer|content-type|openapi|idempotency-key|\bheader|[A-Z][A-Z0-9]*_[A-Z0-9_]+|kubectl|storeflow (up|serve|doctor|runs|schedules|users|bench)\b|\bjson\b|\bhttp\/|percent-encode/i.test(
    text,
  );
}

/**
 * A field problem in plain words: "`email` is required." → "E-mail is required.",
 * "`email` must be a valid e-mail address." → "Enter a valid e-mail address.". Any other
 * backticked name becomes its label.
 */
export function plainFieldMessage(message: string): string {
  const text = message.trim();
  let match = /^`([^`]+)` is required\.?$/.exec(text);
  if (match) return `${fieldLabel(match[1])} is required.`;
  match = /^`([^`]+)` must be a valid e-mail address\.?$/.exec(text);
  if (match) return "Enter a valid e-mail address.";
  return text.replace(/`([^`]+)`/g, (_, name: string) => fieldLabel(name));
}
