import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { ArrowRightIcon, GlobeIcon, LockIcon, ReceiptIcon, TruckIcon } from "../components/Icons";
import { ProductGrid, ProductGridSkeleton } from "../components/ProductCard";
import { ErrorState, buttonPrimary, buttonSecondary, useDocumentTitle } from "../components/ui";
import { useApp } from "../state/app";
import { useCart } from "../state/cart";

const COLLECTION_TINTS = ["from-emerald-900 to-emerald-700", "from-stone-900 to-stone-700", "from-amber-800 to-amber-600", "from-sky-900 to-sky-700"];

function Hero() {
  const { config } = useApp();
  return (
    <section className="relative overflow-hidden bg-stone-900 text-white">
      <div aria-hidden="true" className="absolute -right-24 -top-24 h-96 w-96 rounded-full bg-emerald-700/40 blur-3xl" />
      <div aria-hidden="true" className="absolute -bottom-32 left-1/3 h-80 w-80 rounded-full bg-amber-600/20 blur-3xl" />
      <div className="relative mx-auto max-w-7xl px-4 py-20 sm:px-6 sm:py-28 lg:px-8">
        <p className="text-sm font-semibold uppercase tracking-[0.2em] text-emerald-300">Now open</p>
        <h1 className="mt-4 max-w-3xl text-4xl font-bold tracking-tight sm:text-6xl" data-testid="hero-title">
          Welcome to {config.storeName}
        </h1>
        <p className="mt-6 max-w-xl text-lg text-stone-300">
          Discover our latest products, pick the options that suit you, and check out in three simple steps.
        </p>
        <div className="mt-10 flex flex-wrap gap-3">
          <Link to="/products" className={`${buttonPrimary} bg-white !text-stone-900 hover:!bg-stone-200`}>
            Shop now <ArrowRightIcon size={18} />
          </Link>
          <Link to="/collections" className={`${buttonSecondary} !border-white/40 !bg-transparent !text-white hover:!border-white`}>
            Browse collections
          </Link>
        </div>
      </div>
    </section>
  );
}

function FeaturedProducts() {
  const { api } = useApp();
  const { region, regionsLoading } = useCart();
  const query = useQuery({
    queryKey: ["products", "featured", region?.id],
    queryFn: ({ signal }) => {
      const params = new URLSearchParams({ limit: "8", order: "title" });
      if (region) params.set("region_id", region.id);
      return api.listProducts(params, signal);
    },
    enabled: !regionsLoading,
  });
  return (
    <section aria-labelledby="featured-title" className="mx-auto max-w-7xl px-4 py-16 sm:px-6 lg:px-8">
      <div className="flex items-end justify-between gap-4">
        <div>
          <h2 id="featured-title" className="text-2xl font-bold tracking-tight">
            Featured products
          </h2>
          <p className="mt-1 text-sm text-stone-600">Hand-picked from the shop.</p>
        </div>
        <Link to="/products" className="hidden items-center gap-1 text-sm font-semibold hover:text-emerald-800 sm:inline-flex">
          View all <ArrowRightIcon size={16} />
        </Link>
      </div>
      <div className="mt-8">
        {query.isError ? (
          <ErrorState error={query.error} onRetry={() => query.refetch()} />
        ) : query.data ? (
          query.data.products.length > 0 ? (
            <ProductGrid products={query.data.products} />
          ) : (
            <p className="text-sm text-stone-600">New products are on their way. Check back soon.</p>
          )
        ) : (
          <ProductGridSkeleton />
        )}
      </div>
    </section>
  );
}

function CollectionsStrip() {
  const { api } = useApp();
  const query = useQuery({ queryKey: ["collections"], queryFn: ({ signal }) => api.listCollections(signal), staleTime: 5 * 60_000 });
  if (query.isError || (query.data && query.data.length === 0)) return null;
  return (
    <section aria-labelledby="collections-title" className="mx-auto max-w-7xl px-4 sm:px-6 lg:px-8">
      <h2 id="collections-title" className="text-2xl font-bold tracking-tight">
        Shop by collection
      </h2>
      <ul className="mt-8 grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
        {(query.data ?? [null, null, null]).slice(0, 6).map((collection, index) => (
          <li key={collection?.id ?? index}>
            {collection ? (
              <Link
                to={`/collections/${encodeURIComponent(collection.handle)}`}
                className={`group flex h-40 flex-col justify-end rounded-2xl bg-gradient-to-br p-6 text-white shadow-sm transition hover:shadow-lg ${COLLECTION_TINTS[index % COLLECTION_TINTS.length]}`}
              >
                <span className="text-xl font-semibold">{collection.title}</span>
                <span className="mt-1 inline-flex items-center gap-1 text-sm text-white/80 group-hover:text-white">
                  Explore <ArrowRightIcon size={16} />
                </span>
              </Link>
            ) : (
              <div className="h-40 animate-pulse rounded-2xl bg-stone-200" />
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Perks() {
  const { regions } = useCart();
  const countries = new Set(regions.flatMap((r) => r.countries.map((c) => c.iso_2)));
  const currencies = [...new Set(regions.map((r) => r.currency_code.toUpperCase()))];
  const perks = [
    {
      icon: TruckIcon,
      title: countries.size > 0 ? `Delivery to ${countries.size} ${countries.size === 1 ? "country" : "countries"}` : "Tracked delivery",
      text: "Choose standard or express delivery at checkout.",
    },
    {
      icon: GlobeIcon,
      title: currencies.length > 0 ? `Prices in ${currencies.join(" and ")}` : "Local prices",
      text: "Switch region at the bottom of any page.",
    },
    { icon: LockIcon, title: "Secure checkout", text: "Three short steps, no account needed." },
    { icon: ReceiptIcon, title: "Order history", text: "Create an account to see your orders in one place." },
  ];
  return (
    <section aria-label="Why shop with us" className="mx-auto mt-16 max-w-7xl px-4 sm:px-6 lg:px-8">
      <ul className="grid gap-6 rounded-3xl border border-stone-200 bg-white p-8 sm:grid-cols-2 lg:grid-cols-4">
        {perks.map((perk) => (
          <li key={perk.title} className="flex gap-4">
            <span className="grid h-11 w-11 shrink-0 place-items-center rounded-xl bg-emerald-50 text-emerald-800">
              <perk.icon size={22} />
            </span>
            <div>
              <h3 className="text-sm font-semibold">{perk.title}</h3>
              <p className="mt-1 text-sm text-stone-600">{perk.text}</p>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function HomePage() {
  useDocumentTitle();
  const { regionsError, retryRegions } = useCart();
  return (
    <>
      <Hero />
      {regionsError ? (
        <div className="px-4 py-16">
          <ErrorState error={regionsError} onRetry={retryRegions} />
        </div>
      ) : (
        <>
          <FeaturedProducts />
          <CollectionsStrip />
          <Perks />
        </>
      )}
    </>
  );
}
