import { useEffect, useState, type FormEvent } from "react";
import { Link, NavLink, Outlet, useLocation, useNavigate, useSearchParams } from "react-router";
import { useApp } from "../state/app";
import { useCart } from "../state/cart";
import { useCustomer } from "../state/customer";
import { CartDrawer } from "./CartDrawer";
import { BagIcon, CloseIcon, MenuIcon, SearchIcon, UserIcon } from "./Icons";

export function Monogram({ name, className = "" }: { name: string; className?: string }) {
  const letter = name.trim().charAt(0).toUpperCase() || "S";
  return (
    <span
      aria-hidden="true"
      className={`grid h-9 w-9 shrink-0 place-items-center rounded-xl bg-stone-900 text-base font-bold text-white ${className}`}
    >
      {letter}
    </span>
  );
}

function SearchForm({ id, onDone }: { id: string; onDone?: () => void }) {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const location = useLocation();
  const current = location.pathname === "/products" ? (params.get("q") ?? "") : "";
  const [value, setValue] = useState(current);
  useEffect(() => setValue(current), [current]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const q = value.trim();
    navigate(q ? `/products?q=${encodeURIComponent(q)}` : "/products");
    onDone?.();
  };

  return (
    <form role="search" onSubmit={submit} className="relative w-full">
      <label htmlFor={id} className="sr-only">
        Search products
      </label>
      <SearchIcon className="pointer-events-none absolute left-3 top-1/2 -translate-y-1/2 text-stone-500" size={18} />
      <input
        id={id}
        type="search"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        placeholder="Search products"
        enterKeyHint="search"
        className="w-full rounded-full border border-stone-300 bg-white py-2 pl-10 pr-4 text-base placeholder:text-stone-400 focus:border-stone-900 focus:outline-none focus:ring-2 focus:ring-stone-900/15 sm:text-sm"
      />
    </form>
  );
}

function Header() {
  const { config } = useApp();
  const { count, openDrawer } = useCart();
  const { customer } = useCustomer();
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  useEffect(() => setMenuOpen(false), [location.pathname, location.search]);

  const navClass = ({ isActive }: { isActive: boolean }) =>
    `rounded-full px-3 py-2 text-sm font-medium transition ${isActive ? "bg-stone-900 text-white" : "text-stone-700 hover:bg-stone-100"}`;

  return (
    <header className="sticky top-0 z-30 border-b border-stone-200 bg-white/90 backdrop-blur">
      <div className="mx-auto flex h-16 max-w-7xl items-center gap-3 px-4 sm:px-6 lg:px-8">
        <button
          type="button"
          className="grid h-10 w-10 place-items-center rounded-full text-stone-700 hover:bg-stone-100 md:hidden"
          aria-expanded={menuOpen}
          aria-controls="mobile-menu"
          onClick={() => setMenuOpen((open) => !open)}
        >
          {menuOpen ? <CloseIcon /> : <MenuIcon />}
          <span className="sr-only">{menuOpen ? "Close menu" : "Open menu"}</span>
        </button>
        <Link to="/" className="flex min-w-0 items-center gap-2.5" aria-label={`${config.storeName} home`}>
          <Monogram name={config.storeName} />
          <span className="truncate text-lg font-semibold tracking-tight" data-testid="store-name">
            {config.storeName}
          </span>
        </Link>
        <nav aria-label="Main" className="ml-4 hidden items-center gap-1 md:flex">
          <NavLink to="/products" className={navClass}>
            Shop
          </NavLink>
          <NavLink to="/collections" className={navClass}>
            Collections
          </NavLink>
        </nav>
        <div className="ml-auto hidden w-full max-w-xs md:block">
          <SearchForm id="header-search" />
        </div>
        <div className="ml-auto flex items-center gap-1 md:ml-2">
          <Link
            to="/account"
            className="flex h-10 items-center gap-2 rounded-full px-2.5 text-sm font-medium text-stone-700 hover:bg-stone-100"
          >
            <UserIcon />
            <span className="hidden lg:inline">{customer ? customer.first_name || "Account" : "Sign in"}</span>
            <span className="sr-only lg:hidden">{customer ? "Your account" : "Sign in"}</span>
          </Link>
          <button
            type="button"
            onClick={openDrawer}
            className="relative grid h-10 w-10 place-items-center rounded-full text-stone-800 hover:bg-stone-100"
            aria-label={`Open cart, ${count} ${count === 1 ? "item" : "items"}`}
            data-testid="cart-button"
          >
            <BagIcon size={22} />
            {count > 0 && (
              <span
                aria-hidden="true"
                className="absolute -right-0.5 -top-0.5 grid h-5 min-w-5 place-items-center rounded-full bg-emerald-700 px-1 text-[11px] font-bold text-white"
              >
                {count > 99 ? "99+" : count}
              </span>
            )}
          </button>
        </div>
      </div>
      {menuOpen && (
        <div id="mobile-menu" className="border-t border-stone-200 bg-white px-4 pb-4 pt-3 md:hidden">
          <SearchForm id="mobile-search" onDone={() => setMenuOpen(false)} />
          <nav aria-label="Mobile" className="mt-3 flex flex-col gap-1">
            <NavLink to="/" end className={navClass}>
              Home
            </NavLink>
            <NavLink to="/products" className={navClass}>
              Shop
            </NavLink>
            <NavLink to="/collections" className={navClass}>
              Collections
            </NavLink>
            <NavLink to="/account" className={navClass}>
              {customer ? "Your account" : "Sign in"}
            </NavLink>
          </nav>
        </div>
      )}
    </header>
  );
}

function RegionSelect() {
  const { regions, region, setRegion } = useCart();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (regions.length < 2 || !region) return null;
  return (
    <div>
      <label htmlFor="region-select" className="block text-xs font-semibold uppercase tracking-wide text-stone-400">
        Region &amp; currency
      </label>
      <select
        id="region-select"
        value={region.id}
        disabled={busy}
        onChange={async (e) => {
          setBusy(true);
          setError(null);
          try {
            await setRegion(e.target.value);
          } catch {
            setError("The region could not be changed. Please try again.");
          } finally {
            setBusy(false);
          }
        }}
        className="mt-2 rounded-lg border border-stone-700 bg-stone-800 px-3 py-2 text-sm text-white focus:outline-none focus:ring-2 focus:ring-white/40"
      >
        {regions.map((r) => (
          <option key={r.id} value={r.id}>
            {r.name} ({r.currency_code.toUpperCase()})
          </option>
        ))}
      </select>
      {error && (
        <p role="alert" className="mt-2 text-xs text-red-300">
          {error}
        </p>
      )}
    </div>
  );
}

function Footer() {
  const { config } = useApp();
  const year = new Date().getFullYear();
  return (
    <footer className="mt-20 bg-stone-900 text-stone-300">
      <div className="mx-auto grid max-w-7xl gap-10 px-4 py-12 sm:px-6 md:grid-cols-4 lg:px-8">
        <div className="md:col-span-2">
          <div className="flex items-center gap-2.5 text-white">
            <Monogram name={config.storeName} className="bg-white !text-stone-900" />
            <span className="text-lg font-semibold">{config.storeName}</span>
          </div>
          <p className="mt-4 max-w-sm text-sm text-stone-400">
            Thoughtfully made goods, delivered to your door. Prices are shown in your region's currency.
          </p>
        </div>
        <nav aria-label="Footer">
          <h2 className="text-xs font-semibold uppercase tracking-wide text-stone-400">Shop</h2>
          <ul className="mt-3 space-y-2 text-sm">
            <li>
              <Link className="hover:text-white" to="/products">
                All products
              </Link>
            </li>
            <li>
              <Link className="hover:text-white" to="/collections">
                Collections
              </Link>
            </li>
            <li>
              <Link className="hover:text-white" to="/account">
                Your account
              </Link>
            </li>
          </ul>
        </nav>
        <RegionSelect />
      </div>
      <div className="border-t border-stone-800">
        <p className="mx-auto max-w-7xl px-4 py-5 text-xs text-stone-500 sm:px-6 lg:px-8">
          © {year} {config.storeName}. Powered by MedusaJS.
        </p>
      </div>
    </footer>
  );
}

export function Layout() {
  const location = useLocation();
  useEffect(() => {
    window.scrollTo(0, 0);
  }, [location.pathname]);
  return (
    <div className="flex min-h-screen flex-col">
      <a
        href="#main"
        className="sr-only z-50 rounded-full bg-stone-900 px-4 py-2 text-white focus:not-sr-only focus:fixed focus:left-4 focus:top-4"
      >
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1} className="flex-1 focus:outline-none">
        <Outlet />
      </main>
      <Footer />
      <CartDrawer />
    </div>
  );
}
