// Create a store: name (checked as the API checks it), engine and theme (as the server's engine
// registry offers them, `GET /engines`), optional admin password. The API's own errors are shown as they come, by field where it names one.

import { useRef, useState, type FormEvent, type ReactNode } from "react";
import { useNavigate } from "react-router";

import { ApiError } from "../api/client";
import { useCreateStore, useEngines, type CreateStoreBody } from "../api/queries";
import type { Engine } from "../api/types";
import { IconChevronLeft, IconEye, IconEyeOff } from "../components/icons";
import { useToast } from "../components/Toaster";
import { ApiErrorAlert, Button, ButtonLink, Card, cx, Field, Input, LoadingBlock, PageHeader } from "../components/ui";
import { capitalize, THEME_LABELS } from "../lib/format";
import { useTitle } from "../lib/hooks";
import { newIdempotencyKey } from "../lib/idempotency";
import { storeNameProblems, storePasswordProblems } from "../lib/storeRules";

/**
 * How the engines this dashboard knows of look on their cards. Which engines there are, their
 * titles and themes come from the registry (`GET /engines`); an engine not named here gets a
 * plain card.
 */
const ENGINE_LOOKS: Record<string, { stack: string; description: string; mark: string }> = {
  woocommerce: {
    stack: "WordPress + WooCommerce · MariaDB",
    description: "The classic shop on WordPress, with a theme of your choice.",
    mark: "bg-violet-600",
  },
  medusa: {
    stack: "Medusa backend + storefront · PostgreSQL",
    description: "A headless commerce engine in Node.js with its own storefront.",
    mark: "bg-teal-700",
  },
};
const PLAIN_ENGINE_LOOK = { stack: null, description: null, mark: "bg-slate-600" };

/** Descriptions of the themes this dashboard knows of; the registry says which an engine offers. */
const THEME_DESCRIPTIONS: Record<string, string> = {
  storefront: "WooCommerce's own theme: clean and fast.",
  astra: "Lightweight and highly customizable.",
};

function themeTitle(theme: string): string {
  return THEME_LABELS[theme] ?? capitalize(theme);
}

/** The theme a new store of `engine` starts with: its default, else its first; null without themes. */
function initialTheme(engine: Engine): string | null {
  return engine.defaultTheme ?? engine.themes[0] ?? null;
}

function ChoiceCard({
  name,
  value,
  checked,
  onChange,
  title,
  children,
  mark,
}: {
  name: string;
  value: string;
  checked: boolean;
  onChange: () => void;
  title: string;
  children?: ReactNode;
  mark?: string;
}) {
  return (
    <label
      className={cx(
        "relative flex cursor-pointer gap-3 rounded-xl border bg-white p-4 transition",
        "has-[input:focus-visible]:outline-2 has-[input:focus-visible]:outline-offset-2 has-[input:focus-visible]:outline-indigo-600",
        checked ? "border-indigo-600 ring-1 ring-indigo-600" : "border-slate-200 hover:border-slate-300",
      )}
    >
      <input type="radio" name={name} value={value} checked={checked} onChange={onChange} className="sr-only" />
      {mark ? (
        <span
          className={cx(
            "flex size-9 shrink-0 items-center justify-center rounded-lg text-sm font-bold text-white",
            mark,
          )}
          aria-hidden="true"
        >
          {title.slice(0, 1)}
        </span>
      ) : null}
      <span className="min-w-0 flex-1">
        <span className="block text-sm font-semibold text-slate-900">{title}</span>
        {children ? <span className="mt-0.5 block text-sm text-slate-600">{children}</span> : null}
      </span>
      <span
        aria-hidden="true"
        className={cx(
          "mt-0.5 flex size-4 shrink-0 items-center justify-center rounded-full border",
          checked ? "border-indigo-600 bg-indigo-600" : "border-slate-300",
        )}
      >
        {checked ? <span className="size-1.5 rounded-full bg-white" /> : null}
      </span>
    </label>
  );
}

export function CreateStorePage() {
  useTitle("New store");
  const navigate = useNavigate();
  const toast = useToast();
  const create = useCreateStore();
  const engines = useEngines();
  const [name, setName] = useState("");
  // The engine and theme chosen; until a choice, the registry's first engine and its default theme.
  const [choice, setChoice] = useState<{ engine: string; theme: string | null } | null>(null);
  const [password, setPassword] = useState("");
  const [showPassword, setShowPassword] = useState(false);
  const [touched, setTouched] = useState({ name: false, password: false });
  const [submitted, setSubmitted] = useState(false);
  const idempotency = useRef<{ fingerprint: string; key: string } | null>(null);

  const problems = { name: storeNameProblems(name), password: storePasswordProblems(password) };
  const apiError = create.error instanceof ApiError ? create.error : null;
  const apiFieldErrors = (field: string) => apiError?.messagesFor(field) ?? [];
  const show = (field: "name" | "password") => (submitted || touched[field] ? problems[field] : []);
  const nameErrors = [...show("name"), ...apiFieldErrors("name")];
  const passwordErrors = [...show("password"), ...apiFieldErrors("password")];
  const existing =
    apiError?.code === "STORE_NAME_TAKEN" && apiError.details && typeof apiError.details === "object"
      ? (apiError.details as { storeId?: string }).storeId
      : undefined;

  const options = engines.data ?? [];
  const selected = options.find((e) => e.name === choice?.engine) ?? options[0];
  const theme =
    selected && choice?.engine === selected.name && choice.theme && selected.themes.includes(choice.theme)
      ? choice.theme
      : selected
        ? initialTheme(selected)
        : null;
  const chooseEngine = (option: Engine) => setChoice({ engine: option.name, theme: initialTheme(option) });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!selected) return;
    setSubmitted(true);
    if (problems.name.length || problems.password.length) {
      document.getElementById(problems.name.length ? "store-name" : "store-password")?.focus();
      return;
    }
    const body: CreateStoreBody = { name, engine: selected.name };
    if (selected.themes.length && theme) body.theme = theme;
    if (password) body.password = password;
    // The same request sent twice (a double click, a retry after a lost answer) creates one store.
    const fingerprint = JSON.stringify(body);
    if (idempotency.current?.fingerprint !== fingerprint) idempotency.current = { fingerprint, key: newIdempotencyKey() };
    try {
      const answer = await create.mutateAsync({ body, idempotencyKey: idempotency.current.key });
      toast.show(
        <>
          Store <strong>{answer.store.name}</strong> is being provisioned.
        </>,
      );
      navigate(`/stores/${answer.store.id}`);
    } catch {
      // Shown from create.error; a new attempt at a refused request needs a new key.
      idempotency.current = null;
    }
  };

  return (
    <>
      <PageHeader
        back={
          <ButtonLink to="/stores" variant="ghost" size="sm" icon={<IconChevronLeft />} className="-ml-2">
            Stores
          </ButtonLink>
        }
        title="New store"
        description="Choose a name and an engine; provisioning starts right away and you can follow it live."
      />
      {engines.isPending ? (
        <Card>
          <LoadingBlock label="Loading the engines" />
        </Card>
      ) : engines.isError || !selected ? (
        <ApiErrorAlert
          error={engines.error}
          title="The engines could not be loaded"
          onRetry={() => engines.refetch()}
        />
      ) : (
        <form onSubmit={submit} noValidate className="grid gap-6 lg:grid-cols-3">
          <div className="space-y-6 lg:col-span-2">
            {create.isError ? (
              <ApiErrorAlert
                error={create.error}
                title="The store could not be created"
                action={
                  existing ? (
                    <ButtonLink to={`/stores/${existing}`} size="sm">
                      Open the existing store
                    </ButtonLink>
                  ) : null
                }
              />
            ) : null}
            <Card title="Store">
              <Field
                label="Name"
                htmlFor="store-name"
                hint="3–63 lowercase letters, digits and single hyphens, e.g. spring-shop."
                errors={nameErrors}
              >
                <Input
                  id="store-name"
                  name="name"
                  value={name}
                  onChange={(e) => {
                    setName(e.target.value);
                    if (create.isError) create.reset();
                  }}
                  onBlur={() => name && setTouched((t) => ({ ...t, name: true }))}
                  invalid={nameErrors.length > 0}
                  autoComplete="off"
                  autoCapitalize="none"
                  spellCheck={false}
                  maxLength={100}
                  autoFocus
                />
              </Field>
            </Card>

            <Card title="Engine">
              <fieldset>
                <legend className="sr-only">Engine</legend>
                <div className="grid gap-3 sm:grid-cols-2">
                  {options.map((option) => {
                    const look = ENGINE_LOOKS[option.name] ?? PLAIN_ENGINE_LOOK;
                    return (
                      <ChoiceCard
                        key={option.name}
                        name="engine"
                        value={option.name}
                        checked={selected.name === option.name}
                        onChange={() => chooseEngine(option)}
                        title={option.label}
                        mark={look.mark}
                      >
                        {look.description}
                        {look.stack ? <span className="mt-1.5 block text-xs text-slate-500">{look.stack}</span> : null}
                      </ChoiceCard>
                    );
                  })}
                </div>
              </fieldset>
            </Card>

            {selected.themes.length ? (
              <Card title="Theme">
                <fieldset>
                  <legend className="sr-only">Theme</legend>
                  <div className="grid gap-3 sm:grid-cols-2">
                    {selected.themes.map((option) => (
                      <ChoiceCard
                        key={option}
                        name="theme"
                        value={option}
                        checked={theme === option}
                        onChange={() => setChoice({ engine: selected.name, theme: option })}
                        title={themeTitle(option)}
                      >
                        {THEME_DESCRIPTIONS[option]}
                      </ChoiceCard>
                    ))}
                  </div>
                </fieldset>
              </Card>
            ) : null}

            <Card title="Store admin">
              <Field
                label="Admin password"
                htmlFor="store-password"
                optional
                hint="Leave blank and a strong random password is generated; you can reveal it on the store's page."
                errors={passwordErrors}
              >
                <div className="relative">
                  <Input
                    id="store-password"
                    type={showPassword ? "text" : "password"}
                    value={password}
                    onChange={(e) => setPassword(e.target.value)}
                    onBlur={() => password && setTouched((t) => ({ ...t, password: true }))}
                    invalid={passwordErrors.length > 0}
                    autoComplete="new-password"
                    className="pr-10"
                  />
                  <button
                    type="button"
                    onClick={() => setShowPassword((s) => !s)}
                    className="absolute inset-y-0 right-0 flex w-10 items-center justify-center rounded-r-lg text-slate-500 hover:text-slate-800 focus-visible:outline-2 focus-visible:outline-indigo-600"
                    aria-label={showPassword ? "Hide password" : "Show password"}
                    aria-pressed={showPassword}
                  >
                    {showPassword ? <IconEyeOff /> : <IconEye />}
                  </button>
                </div>
              </Field>
            </Card>
          </div>

          <div className="lg:col-span-1">
            <div className="space-y-4 lg:sticky lg:top-8">
              <Card title="Summary">
                <dl className="space-y-2 text-sm">
                  <div className="flex justify-between gap-3">
                    <dt className="text-slate-500">Name</dt>
                    <dd className="truncate font-medium text-slate-900">{name || "—"}</dd>
                  </div>
                  <div className="flex justify-between gap-3">
                    <dt className="text-slate-500">Engine</dt>
                    <dd className="font-medium text-slate-900">{selected.label}</dd>
                  </div>
                  {selected.themes.length && theme ? (
                    <div className="flex justify-between gap-3">
                      <dt className="text-slate-500">Theme</dt>
                      <dd className="font-medium text-slate-900">{themeTitle(theme)}</dd>
                    </div>
                  ) : null}
                  <div className="flex justify-between gap-3">
                    <dt className="text-slate-500">Admin password</dt>
                    <dd className="font-medium text-slate-900">{password ? "Your own" : "Generated"}</dd>
                  </div>
                </dl>
                <p className="mt-4 border-t border-slate-100 pt-3 text-xs text-slate-500">
                  The store gets its own Kubernetes namespace. Provisioning usually takes a few minutes.
                </p>
                <Button type="submit" variant="primary" className="mt-4 w-full" loading={create.isPending}>
                  Create store
                </Button>
              </Card>
            </div>
          </div>
        </form>
      )}
    </>
  );
}
