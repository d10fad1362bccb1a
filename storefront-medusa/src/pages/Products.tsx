import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import type { ProductCategory, ProductCollection } from "../api/types";
import { ArrowLeftIcon, ArrowRightIcon, SearchIcon } from "../components/Icons";
import { ProductGrid, ProductGridSkeleton } from "../components/ProductCard";
import { EmptyState, ErrorState, buttonSecondary, useDocumentTitle } from "../components/ui";
import {
  PAGE_SIZE,
  SORTS,
  catalogSearchParams,
  pageCount,
  parseCatalogQuery,
  storeProductsQuery,
  updateCatalogQuery,
  type CatalogQuery,
  type Sort,
} from "../lib/catalog-query";
import { useApp } from "../state/app";
import { useCart } from "../state/cart";

function FilterGroup<T extends { id: string }>({
  legend,
  name,
  items,
  selected,
  label,
  onSelect,
}: {
  legend: string;
  name: string;
  items: T[];
  selected: string | null;
  label(item: T): string;
  onSelect(id: string | null): void;
}) {
  if (items.length === 0) return null;
  const options = [{ id: null as string | null, text: `All ${legend.toLowerCase()}` }, ...items.map((i) => ({ id: i.id as string | null, text: label(i) }))];
  return (
    <fieldset>
      <legend className="text-xs font-semibold uppercase tracking-wide text-stone-500">{legend}</legend>
      <div className="mt-3 flex flex-wrap gap-2 lg:flex-col lg:gap-1">
        {options.map((option) => {
          const checked = selected === option.id;
          return (
            <label
              key={option.id ?? "all"}
              className={`cursor-pointer rounded-full border px-3 py-1.5 text-sm transition has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-stone-900 lg:rounded-lg lg:border-transparent ${
                checked ? "border-stone-900 bg-stone-900 text-white lg:bg-stone-900" : "border-stone-300 bg-white text-stone-700 hover:border-stone-500 lg:bg-transparent lg:hover:bg-stone-100"
              }`}
            >
              <input
                type="radio"
                name={name}
                className="sr-only"
                checked={checked}
                onChange={() => onSelect(option.id)}
              />
              {option.text}
            </label>
          );
        })}
      </div>
    </fieldset>
  );
}

function SearchBox({ query, onSearch }: { query: CatalogQuery; onSearch(q: string): void }) {
  const [value, setValue] = useState(query.q);
  useEffect(() => setValue(query.q), [query.q]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSearch(value.trim());
  };
  return (
    <form role="search" onSubmit={submit} className="flex w-full gap-2 sm:max-w-md">
      <div className="relative flex-1">
        <label htmlFor="catalog-search" className="sr-only">
          Search the catalogue
        </label>
        <SearchIcon className="pointer-events-none absolute left-3 top-1/2 -translate-y-1/2 text-stone-500" size={18} />
        <input
          id="catalog-search"
          type="search"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          placeholder="Search by name or description"
          className="w-full rounded-full border border-stone-300 bg-white py-2.5 pl-10 pr-4 text-base focus:border-stone-900 focus:outline-none focus:ring-2 focus:ring-stone-900/15 sm:text-sm"
        />
      </div>
      <button type="submit" className="rounded-full bg-stone-900 px-5 text-sm font-semibold text-white hover:bg-stone-700">
        Search
      </button>
    </form>
  );
}

function Pagination({ query, total }: { query: CatalogQuery; total: number }) {
  const pages = pageCount(total);
  if (pages <= 1) return null;
  const link = (page: number) => `/products?${catalogSearchParams({ ...query, page }).toString()}`;
  const base = "inline-flex items-center gap-1 rounded-full border px-4 py-2 text-sm font-medium";
  return (
    <nav aria-label="Pagination" className="mt-12 flex items-center justify-between gap-4">
      {query.page > 1 ? (
        <Link to={link(query.page - 1)} className={`${base} border-stone-300 bg-white hover:border-stone-900`} rel="prev">
          <ArrowLeftIcon size={16} /> Previous
        </Link>
      ) : (
        <span className={`${base} border-stone-200 text-stone-400`} aria-disabled="true">
          <ArrowLeftIcon size={16} /> Previous
        </span>
      )}
      <p className="text-sm text-stone-600" aria-current="page">
        Page {query.page} of {pages}
      </p>
      {query.page < pages ? (
        <Link to={link(query.page + 1)} className={`${base} border-stone-300 bg-white hover:border-stone-900`} rel="next">
          Next <ArrowRightIcon size={16} />
        </Link>
      ) : (
        <span className={`${base} border-stone-200 text-stone-400`} aria-disabled="true">
          Next <ArrowRightIcon size={16} />
        </span>
      )}
    </nav>
  );
}

export function ProductsPage() {
  const { api } = useApp();
  const { region, regionsLoading } = useCart();
  const [params, setParams] = useSearchParams();
  const query = parseCatalogQuery(params);

  const collections = useQuery({ queryKey: ["collections"], queryFn: ({ signal }) => api.listCollections(signal), staleTime: 5 * 60_000 });
  const categories = useQuery({ queryKey: ["categories"], queryFn: ({ signal }) => api.listCategories(signal), staleTime: 5 * 60_000 });
  const storeQuery = storeProductsQuery(query, region?.id).toString();
  const products = useQuery({
    queryKey: ["products", storeQuery],
    queryFn: ({ signal }) => api.listProducts(new URLSearchParams(storeQuery), signal),
    enabled: !regionsLoading,
    placeholderData: keepPreviousData,
  });

  const collectionName = collections.data?.find((c) => c.id === query.collection)?.title;
  const categoryName = categories.data?.find((c) => c.id === query.category)?.name;
  const heading = query.q ? `Results for “${query.q}”` : (collectionName ?? categoryName ?? "All products");
  useDocumentTitle(heading);

  // From the address bar at the moment of the change, not from this render's `query`: a
  // navigation (Clear all filters) is rendered in a transition, so a control used right after it
  // can still hold the previous render's query and would bring the cleared filters back.
  const change = (update: Partial<CatalogQuery>) =>
    setParams(updateCatalogQuery(parseCatalogQuery(new URLSearchParams(window.location.search)), update));
  const filtered = Boolean(query.q || query.collection || query.category);

  return (
    <div className="mx-auto max-w-7xl px-4 py-10 sm:px-6 lg:px-8">
      <div className="flex flex-col gap-6 border-b border-stone-200 pb-8 sm:flex-row sm:items-end sm:justify-between">
        <div>
          <h1 className="text-3xl font-bold tracking-tight" data-testid="catalog-heading">
            {heading}
          </h1>
          <p className="mt-2 text-sm text-stone-600" aria-live="polite" data-testid="result-count">
            {products.data
              ? `${products.data.count} ${products.data.count === 1 ? "product" : "products"}`
              : products.isError
                ? "\u00a0"
                : "Loading products…"}
          </p>
        </div>
        <SearchBox query={query} onSearch={(q) => change({ q })} />
      </div>

      <div className="mt-8 grid gap-10 lg:grid-cols-[14rem_1fr]">
        <aside aria-label="Filters" className="space-y-6">
          <FilterGroup<ProductCollection>
            legend="Collections"
            name="collection"
            items={collections.data ?? []}
            selected={query.collection}
            label={(c) => c.title}
            onSelect={(collection) => change({ collection })}
          />
          <FilterGroup<ProductCategory>
            legend="Categories"
            name="category"
            items={(categories.data ?? []).filter((c) => !c.parent_category_id)}
            selected={query.category}
            label={(c) => c.name}
            onSelect={(category) => change({ category })}
          />
          {filtered && (
            <Link to="/products" className="inline-block text-sm font-medium underline underline-offset-4">
              Clear all filters
            </Link>
          )}
        </aside>

        <section aria-label="Product results">
          <div className="mb-6 flex items-center justify-end gap-2">
            <label htmlFor="sort" className="text-sm text-stone-600">
              Sort by
            </label>
            <select
              id="sort"
              value={query.sort}
              onChange={(e) => change({ sort: e.target.value as Sort })}
              className="rounded-lg border border-stone-300 bg-white px-3 py-2 text-sm focus:border-stone-900 focus:outline-none focus:ring-2 focus:ring-stone-900/15"
            >
              {SORTS.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </select>
          </div>
          {products.isError ? (
            <ErrorState error={products.error} onRetry={() => products.refetch()} />
          ) : !products.data ? (
            <ProductGridSkeleton count={PAGE_SIZE} />
          ) : products.data.products.length === 0 ? (
            <EmptyState
              title={query.page > 1 ? "This page is empty" : "No products found"}
              message={query.q ? `Nothing matches “${query.q}”. Try another word or clear the filters.` : "No products match these filters yet."}
              action={
                <Link to="/products" className={buttonSecondary}>
                  Show all products
                </Link>
              }
            />
          ) : (
            <div className={products.isPlaceholderData ? "opacity-60 transition-opacity" : undefined} aria-busy={products.isPlaceholderData}>
              <ProductGrid products={products.data.products} />
              <Pagination query={query} total={products.data.count} />
            </div>
          )}
        </section>
      </div>
    </div>
  );
}
