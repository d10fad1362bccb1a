// Create a store: name (checked as the API checks it), engine, theme for WooCommerce, optional
// admin password. The API's own errors are shown as they come, by field where it names one.

import { useRef, useState, type FormEvent, type ReactNode } from "react";
import { useNavigate } from "react-router";

import { ApiError } from "../api/client";
import { useCreateStore, type CreateStoreBody } from "../api/queries";
import { IconChevronLeft, IconEye, IconEyeOff } from "../components/icons";
import { useToast } from "../components/Toaster";
import { ApiErrorAlert, Button, ButtonLink, Card, cx, Field, Input, PageHeader } from "../components/ui";
import { useTitle } from "../lib/hooks";
import { newIdempotencyKey } from "../lib/idempotency";
import { storeNameProblems, storePasswordProblems } from "../lib/storeRules";

type Engine = CreateStoreBody["engine"];
type Theme = NonNullable<CreateStoreBody["theme"]>;

const ENGINES: { value: Engine; title: string; stack: string; description: string; mark: string }[] = [
  {
    value: "woocommerce",
    title: "WooCommerce",
    stack: "WordPress + WooCommerce · MariaDB",
    description: "The classic shop on WordPress, with a theme of your choice.",
    mark: "bg-violet-600",
  },
  {
    value: "medusa",
    title: "MedusaJS",
    stack: "Medusa backend + storefront · PostgreSQL",
    description: "A headless commerce engine in Node.js with its own storefront.",
    mark: "bg-teal-700",
  },
];

const THEMES: { value: Theme; title: string; description: string }[] = [
  { value: "storefront", title: "Storefront", description: "WooCommerce's own theme: clean and fast." },
  { value: "astra", title: "Astra", description: "Lightweight and highly customizable." },
];

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
  children: ReactNode;
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
        <span className="mt-0.5 block text-sm text-slate-600">{children}</span>
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
  const [name, setName] = useState("");
  const [engine, setEngine] = useState<Engine>("woocommerce");
  const [theme, setTheme] = useState<Theme>("storefront");
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

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (problems.name.length || problems.password.length) {
      document.getElementById(problems.name.length ? "store-name" : "store-password")?.focus();
      return;
    }
    const body: CreateStoreBody = { name, engine };
    if (engine === "woocommerce") body.theme = theme;
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
                {ENGINES.map((option) => (
                  <ChoiceCard
                    key={option.value}
                    name="engine"
                    value={option.value}
                    checked={engine === option.value}
                    onChange={() => setEngine(option.value)}
                    title={option.title}
                    mark={option.mark}
                  >
                    {option.description}
                    <span className="mt-1.5 block text-xs text-slate-500">{option.stack}</span>
                  </ChoiceCard>
                ))}
              </div>
            </fieldset>
          </Card>

          {engine === "woocommerce" ? (
            <Card title="Theme">
              <fieldset>
                <legend className="sr-only">Theme</legend>
                <div className="grid gap-3 sm:grid-cols-2">
                  {THEMES.map((option) => (
                    <ChoiceCard
                      key={option.value}
                      name="theme"
                      value={option.value}
                      checked={theme === option.value}
                      onChange={() => setTheme(option.value)}
                      title={option.title}
                    >
                      {option.description}
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
                  <dd className="font-medium text-slate-900">
                    {engine === "woocommerce" ? "WooCommerce" : "MedusaJS"}
                  </dd>
                </div>
                {engine === "woocommerce" ? (
                  <div className="flex justify-between gap-3">
                    <dt className="text-slate-500">Theme</dt>
                    <dd className="font-medium text-slate-900">{theme === "astra" ? "Astra" : "Storefront"}</dd>
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
    </>
  );
}
