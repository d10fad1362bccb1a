import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import type { Product } from "../api/types";
import { ArrowRightIcon } from "../components/Icons";
import { ProductGrid, ProductGridSkeleton } from "../components/ProductCard";
import { EmptyState, ErrorState, buttonSecondary, useDocumentTitle } from "../components/ui";
import { useApp } from "../state/app";
import { useCart } from "../state/cart";

/** Up to 100 products of the given collections, for previews (one request for the whole page). */
function useCollectionProducts(collectionIds: string[]) {
  const { api } = useApp();
  const { region, regionsLoading } = useCart();
  return useQuery({
    queryKey: ["products", "collections", collectionIds.join(","), region?.id],
    queryFn: ({ signal }) => {
      const params = new URLSearchParams({ limit: "100", order: "title" });
      for (const id of collectionIds) params.append("collection_id[]", id);
      if (region) params.set("region_id", region.id);
      return api.listProducts(params, signal);
    },
    enabled: collectionIds.length > 0 && !regionsLoading,
  });
}

export function CollectionsPage() {
  useDocumentTitle("Collections");
  const { api } = useApp();
  const collections = useQuery({ queryKey: ["collections"], queryFn: ({ signal }) => api.listCollections(signal), staleTime: 5 * 60_000 });
  const previews = useCollectionProducts(collections.data?.map((c) => c.id) ?? []);

  const byCollection = new Map<string, Product[]>();
  for (const product of previews.data?.products ?? []) {
    if (!product.collection_id) continue;
    byCollection.set(product.collection_id, [...(byCollection.get(product.collection_id) ?? []), product]);
  }

  return (
    <div className="mx-auto max-w-7xl px-4 py-10 sm:px-6 lg:px-8">
      <h1 className="text-3xl font-bold tracking-tight">Collections</h1>
      <p className="mt-2 text-stone-600">Curated edits from across the shop.</p>
      <div className="mt-10">
        {collections.isError ? (
          <ErrorState error={collections.error} onRetry={() => collections.refetch()} />
        ) : collections.isPending ? (
          <div className="grid gap-6 md:grid-cols-2">
            {[0, 1, 2, 3].map((i) => (
              <div key={i} className="h-64 animate-pulse rounded-3xl bg-stone-200" />
            ))}
          </div>
        ) : collections.data.length === 0 ? (
          <EmptyState
            title="No collections yet"
            message="Browse every product in the shop instead."
            action={
              <Link to="/products" className={buttonSecondary}>
                Shop all products
              </Link>
            }
          />
        ) : (
          <ul className="grid gap-6 md:grid-cols-2">
            {collections.data.map((collection) => {
              const products = byCollection.get(collection.id) ?? [];
              return (
                <li key={collection.id}>
                  <Link
                    to={`/collections/${encodeURIComponent(collection.handle)}`}
                    className="group block rounded-3xl border border-stone-200 bg-white p-5 shadow-sm transition hover:shadow-md focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-stone-900"
                  >
                    <div className="grid grid-cols-3 gap-3">
                      {[0, 1, 2].map((i) => (
                        <div key={i} className="aspect-square overflow-hidden rounded-2xl bg-stone-100">
                          {products[i]?.thumbnail && <img src={products[i].thumbnail ?? undefined} alt="" className="h-full w-full object-cover" loading="lazy" />}
                        </div>
                      ))}
                    </div>
                    <div className="mt-5 flex items-center justify-between">
                      <div>
                        <h2 className="text-lg font-semibold">{collection.title}</h2>
                        <p className="text-sm text-stone-600">
                          {previews.data ? `${products.length} ${products.length === 1 ? "product" : "products"}` : "\u00a0"}
                        </p>
                      </div>
                      <span className="grid h-10 w-10 place-items-center rounded-full bg-stone-900 text-white transition group-hover:translate-x-1">
                        <ArrowRightIcon size={18} />
                      </span>
                    </div>
                  </Link>
                </li>
              );
            })}
          </ul>
        )}
      </div>
    </div>
  );
}

export function CollectionPage() {
  const { handle = "" } = useParams();
  const { api } = useApp();
  const collections = useQuery({ queryKey: ["collections"], queryFn: ({ signal }) => api.listCollections(signal), staleTime: 5 * 60_000 });
  const collection = collections.data?.find((c) => c.handle === handle);
  const products = useCollectionProducts(collection ? [collection.id] : []);
  useDocumentTitle(collection?.title ?? (collections.isPending ? undefined : "Collection not found"));

  if (collections.isError) {
    return (
      <div className="px-4 py-20">
        <ErrorState error={collections.error} onRetry={() => collections.refetch()} />
      </div>
    );
  }
  if (!collections.isPending && !collection) {
    return (
      <div className="px-4 py-20">
        <EmptyState
          title="We couldn't find that collection"
          message="It may have been renamed or removed."
          action={
            <Link to="/collections" className={buttonSecondary}>
              See all collections
            </Link>
          }
        />
      </div>
    );
  }
  return (
    <div className="mx-auto max-w-7xl px-4 py-10 sm:px-6 lg:px-8">
      <nav aria-label="Breadcrumb" className="text-sm text-stone-500">
        <Link to="/collections" className="hover:text-stone-900">
          Collections
        </Link>
      </nav>
      <h1 className="mt-2 text-3xl font-bold tracking-tight">{collection?.title ?? "\u00a0"}</h1>
      {collection && (
        <Link to={`/products?collection=${encodeURIComponent(collection.id)}`} className="mt-2 inline-block text-sm font-medium underline underline-offset-4">
          Search and sort this collection
        </Link>
      )}
      <div className="mt-8">
        {products.isError ? (
          <ErrorState error={products.error} onRetry={() => products.refetch()} />
        ) : products.data ? (
          products.data.products.length > 0 ? (
            <ProductGrid products={products.data.products} />
          ) : (
            <EmptyState title="Nothing here yet" message="This collection has no products at the moment." />
          )
        ) : (
          <ProductGridSkeleton />
        )}
      </div>
    </div>
  );
}
