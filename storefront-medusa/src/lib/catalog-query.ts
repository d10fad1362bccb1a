// The product list's state lives in the URL (?q=&collection=&category=&sort=&page=) so that every
// view can be bookmarked, shared and restored with the back button.

export const PAGE_SIZE = 12;

export const SORTS = [
  { value: "title", label: "Name: A to Z" },
  { value: "-title", label: "Name: Z to A" },
  { value: "-created_at", label: "Newest" },
  { value: "created_at", label: "Oldest" },
] as const;

export type Sort = (typeof SORTS)[number]["value"];

// Name order is the default: it is stable across pages even when a seed created every product in
// one transaction (same created_at), where a date order would shuffle products between pages.
export const DEFAULT_SORT: Sort = "title";

export interface CatalogQuery {
  q: string;
  collection: string | null;
  category: string | null;
  sort: Sort;
  page: number;
}

function isSort(value: string | null): value is Sort {
  return SORTS.some((s) => s.value === value);
}

export function parseCatalogQuery(params: URLSearchParams): CatalogQuery {
  const page = Number.parseInt(params.get("page") ?? "1", 10);
  const sort = params.get("sort");
  return {
    q: (params.get("q") ?? "").trim().slice(0, 100),
    collection: params.get("collection") || null,
    category: params.get("category") || null,
    sort: isSort(sort) ? sort : DEFAULT_SORT,
    page: Number.isFinite(page) && page >= 1 ? Math.min(page, 1000) : 1,
  };
}

/** The URL parameters for a catalogue view; defaults are left out to keep URLs short. */
export function catalogSearchParams(query: Partial<CatalogQuery>): URLSearchParams {
  const params = new URLSearchParams();
  if (query.q) params.set("q", query.q);
  if (query.collection) params.set("collection", query.collection);
  if (query.category) params.set("category", query.category);
  if (query.sort && query.sort !== DEFAULT_SORT) params.set("sort", query.sort);
  if (query.page && query.page > 1) params.set("page", String(query.page));
  return params;
}

/**
 * A change of filter, search or sort starts again at page 1; only an explicit page change keeps it.
 */
export function updateCatalogQuery(current: CatalogQuery, change: Partial<CatalogQuery>): URLSearchParams {
  const next = { ...current, ...change };
  if (!("page" in change)) next.page = 1;
  return catalogSearchParams(next);
}

/** The Medusa Store API query for GET /store/products. */
export function storeProductsQuery(query: CatalogQuery, regionId: string | undefined, pageSize = PAGE_SIZE): URLSearchParams {
  const params = new URLSearchParams();
  params.set("limit", String(pageSize));
  params.set("offset", String((query.page - 1) * pageSize));
  params.set("order", query.sort);
  if (query.q) params.set("q", query.q);
  if (query.collection) params.append("collection_id[]", query.collection);
  if (query.category) params.append("category_id[]", query.category);
  if (regionId) params.set("region_id", regionId);
  return params;
}

export function pageCount(total: number, pageSize = PAGE_SIZE): number {
  return Math.max(1, Math.ceil(total / pageSize));
}
