// The signed-in shell: a sidebar on wide screens, a top bar with a menu on phones; the page in
// <main>, with a skip link to it (and, with a simulated cluster, a banner above it).

import { useEffect, useState, type ReactNode } from "react";
import { Link, NavLink, Navigate, Outlet, useLocation, useSearchParams } from "react-router";

import { loginPath, safeNext, useAuth } from "../auth/AuthContext";
import {
  IconActivity,
  IconArchive,
  IconClock,
  IconGrid,
  IconKey,
  IconLayers,
  IconList,
  IconLogOut,
  IconMenu,
  IconPlus,
  IconShield,
  IconStore,
  IconUsers,
  IconWorkflow,
  IconX,
  Logo,
} from "./icons";
import { SimulatedClusterBanner } from "./SimulatedCluster";
import { cx, EmptyState, Spinner } from "./ui";

interface NavEntry {
  to: string;
  label: string;
  icon: ReactNode;
  end?: boolean;
}

const MAIN: NavEntry[] = [
  { to: "/", label: "Overview", icon: <IconGrid />, end: true },
  { to: "/stores", label: "Stores", icon: <IconStore />, end: true },
  { to: "/stores/new", label: "New store", icon: <IconPlus /> },
  { to: "/backups", label: "Backups", icon: <IconArchive /> },
];

const OPERATIONS: NavEntry[] = [
  { to: "/runs", label: "Runs", icon: <IconActivity /> },
  { to: "/rollouts", label: "Rollouts", icon: <IconLayers /> },
  { to: "/workflows", label: "Workflows", icon: <IconWorkflow /> },
  { to: "/schedules", label: "Schedules", icon: <IconClock /> },
  { to: "/users", label: "Users", icon: <IconUsers /> },
];

function NavItem({ entry, onNavigate }: { entry: NavEntry; onNavigate?: () => void }) {
  return (
    <li>
      <NavLink
        to={entry.to}
        end={entry.end}
        onClick={onNavigate}
        className={({ isActive }) =>
          cx(
            "flex items-center gap-3 rounded-lg px-3 py-2 text-sm font-medium transition-colors",
            "focus-visible:outline-2 focus-visible:outline-offset-0 focus-visible:outline-indigo-400",
            isActive ? "bg-white/10 text-white" : "text-slate-300 hover:bg-white/5 hover:text-white",
          )
        }
      >
        <span className="text-slate-400">{entry.icon}</span>
        {entry.label}
      </NavLink>
    </li>
  );
}

function Navigation({ onNavigate }: { onNavigate?: () => void }) {
  const { user, isAdmin, logout } = useAuth();
  return (
    <div className="flex h-full flex-col">
      <nav aria-label="Main" className="flex-1 space-y-6 overflow-y-auto px-3 py-4">
        <ul className="space-y-1">
          {MAIN.map((entry) => (
            <NavItem key={entry.to} entry={entry} onNavigate={onNavigate} />
          ))}
          <NavItem entry={{ to: "/audit", label: "Audit log", icon: <IconList /> }} onNavigate={onNavigate} />
        </ul>
        {isAdmin ? (
          <div>
            <p className="px-3 pb-2 text-xs font-semibold tracking-wider text-slate-400 uppercase">Operations</p>
            <ul className="space-y-1">
              {OPERATIONS.map((entry) => (
                <NavItem key={entry.to} entry={entry} onNavigate={onNavigate} />
              ))}
            </ul>
          </div>
        ) : null}
      </nav>
      <div className="border-t border-white/10 p-3">
        <div className="flex items-center gap-3 px-2 py-2">
          <div
            className="flex size-8 shrink-0 items-center justify-center rounded-full bg-indigo-500/20 text-sm font-semibold text-indigo-200 uppercase"
            aria-hidden="true"
          >
            {user?.username.slice(0, 1)}
          </div>
          <div className="min-w-0 flex-1">
            <p className="truncate text-sm font-medium text-white" data-testid="current-user">
              {user?.username}
            </p>
            <p className="flex items-center gap-1 truncate text-xs text-slate-400">
              {isAdmin ? (
                <>
                  <IconShield className="size-3 text-indigo-300" /> Administrator
                </>
              ) : (
                user?.email
              )}
            </p>
          </div>
        </div>
        <ul className="mt-1 space-y-1">
          <NavItem entry={{ to: "/account", label: "Change password", icon: <IconKey /> }} onNavigate={onNavigate} />
          <li>
            <button
              type="button"
              onClick={logout}
              className="flex w-full items-center gap-3 rounded-lg px-3 py-2 text-sm font-medium text-slate-300 hover:bg-white/5 hover:text-white focus-visible:outline-2 focus-visible:outline-indigo-400"
            >
              <span className="text-slate-400">
                <IconLogOut />
              </span>
              Sign out
            </button>
          </li>
        </ul>
      </div>
    </div>
  );
}

export function AppLayout() {
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  useEffect(() => setMenuOpen(false), [location.pathname]);
  useEffect(() => {
    if (!menuOpen) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") setMenuOpen(false);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [menuOpen]);

  return (
    <div className="min-h-dvh bg-slate-50 lg:grid lg:grid-cols-[16rem_minmax(0,1fr)]">
      <a
        href="#main"
        className="sr-only z-50 rounded-md bg-white px-3 py-2 text-sm font-medium text-indigo-700 shadow focus:not-sr-only focus:fixed focus:top-3 focus:left-3"
      >
        Skip to content
      </a>

      {/* Wide screens: a sidebar that stays in view. */}
      <aside className="hidden bg-slate-900 lg:block">
        <div className="sticky top-0 flex h-dvh flex-col">
          <Link
            to="/"
            className="flex h-16 shrink-0 items-center gap-2.5 border-b border-white/10 px-6 focus-visible:outline-2 focus-visible:outline-indigo-400"
          >
            <Logo />
            <span className="text-base font-semibold tracking-tight text-white">storeflow</span>
          </Link>
          <Navigation />
        </div>
      </aside>

      <div className="min-w-0">
        {/* Phones and tablets: top bar and a slide-over menu. */}
        <header className="sticky top-0 z-30 flex h-14 items-center gap-3 border-b border-slate-200 bg-white/95 px-4 backdrop-blur lg:hidden">
          <button
            type="button"
            onClick={() => setMenuOpen(true)}
            className="-ml-1 rounded-md p-2 text-slate-700 hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-indigo-600"
            aria-label="Open menu"
            aria-expanded={menuOpen}
            aria-controls="mobile-menu"
          >
            <IconMenu className="size-5" />
          </button>
          <Link
            to="/"
            className="flex items-center gap-2 rounded focus-visible:outline-2 focus-visible:outline-indigo-600"
          >
            <Logo className="size-6" />
            <span className="font-semibold tracking-tight text-slate-900">storeflow</span>
          </Link>
        </header>
        {menuOpen ? (
          <div
            className="fixed inset-0 z-40 lg:hidden"
            id="mobile-menu"
            role="dialog"
            aria-modal="true"
            aria-label="Menu"
          >
            <div className="absolute inset-0 bg-slate-950/50" onClick={() => setMenuOpen(false)} aria-hidden="true" />
            <div className="absolute inset-y-0 left-0 flex w-72 max-w-[85vw] flex-col bg-slate-900 shadow-xl">
              <div className="flex h-14 items-center justify-between border-b border-white/10 px-4">
                <span className="flex items-center gap-2">
                  <Logo className="size-6" />
                  <span className="font-semibold text-white">storeflow</span>
                </span>
                <button
                  type="button"
                  onClick={() => setMenuOpen(false)}
                  className="rounded-md p-2 text-slate-300 hover:bg-white/10 focus-visible:outline-2 focus-visible:outline-indigo-400"
                  aria-label="Close menu"
                  autoFocus
                >
                  <IconX className="size-5" />
                </button>
              </div>
              <Navigation onNavigate={() => setMenuOpen(false)} />
            </div>
          </div>
        ) : null}

        <SimulatedClusterBanner />

        <main id="main" tabIndex={-1} className="outline-none">
          <div className="mx-auto max-w-7xl px-4 py-6 sm:px-6 lg:px-8 lg:py-8">
            <Outlet />
          </div>
        </main>
      </div>
    </div>
  );
}

export function FullPageSpinner() {
  return (
    <div className="flex min-h-dvh flex-col bg-slate-50">
      <SimulatedClusterBanner />
      <div className="flex flex-1 items-center justify-center text-indigo-600">
        <Spinner className="size-8" label="Loading" />
      </div>
    </div>
  );
}

/** Only signed-in users; anyone else signs in first and comes back here. */
export function RequireAuth() {
  const { status, ended } = useAuth();
  const location = useLocation();
  if (status === "loading") return <FullPageSpinner />;
  if (status === "anonymous") {
    // Signing out starts afresh; anything else comes back here after signing in.
    if (ended === "signed-out") return <Navigate to="/login" replace />;
    if (ended === "signed-out-everywhere") return <Navigate to="/login?reason=signed-out-everywhere" replace />;
    return <Navigate to={loginPath(location.pathname + location.search, ended ?? undefined)} replace />;
  }
  return <AppLayout />;
}

/** What a tenant sees of an operators' page (also when the API refuses it with 403). */
export function OperatorsOnly() {
  return (
    <div data-testid="operators-only">
      <EmptyState icon={<IconShield className="size-5" />} title="Operators only">
        This page is for the platform's administrators.
      </EmptyState>
    </div>
  );
}

/** Admin pages: tenants are told, not redirected. */
export function RequireAdmin({ children }: { children: ReactNode }) {
  const { isAdmin } = useAuth();
  if (!isAdmin) return <OperatorsOnly />;
  return <>{children}</>;
}

/**
 * Sign-in and registration pages: signed-in users (also just now) go on to `next`, unless
 * `signedIn` says something else to them (an invitation link opened while signed in).
 */
export function GuestOnly({ children, signedIn }: { children: ReactNode; signedIn?: ReactNode }) {
  const { status } = useAuth();
  const [params] = useSearchParams();
  if (status === "loading") return <FullPageSpinner />;
  if (status === "authenticated") return signedIn ?? <Navigate to={safeNext(params.get("next"))} replace />;
  return <>{children}</>;
}
