import { Link } from "react-router";
import type { Product } from "../api/types";
import { priceRange } from "../lib/money";
import { isSoldOut } from "../lib/variants";
import { useMoney } from "../state/money";

export function ProductPrice({ product, className = "" }: { product: Product; className?: string }) {
  const { currency, format } = useMoney();
  const range = priceRange(product.variants, currency);
  if (!range) return <span className={`text-stone-500 ${className}`}>Price on request</span>;
  return (
    <span className={`tabular-nums ${className}`}>
      {range.min !== range.max && <span className="font-normal text-stone-500">From </span>}
      {format(range.min)}
    </span>
  );
}

export function ProductCard({ product, priority = false }: { product: Product; priority?: boolean }) {
  const soldOut = isSoldOut(product);
  const image = product.thumbnail ?? product.images?.[0]?.url;
  return (
    <article className="group relative flex flex-col" data-testid="product-card">
      <div className="relative aspect-square overflow-hidden rounded-2xl bg-stone-100">
        {image ? (
          <img
            src={image}
            alt=""
            loading={priority ? "eager" : "lazy"}
            className="h-full w-full object-cover transition duration-300 group-hover:scale-[1.03]"
          />
        ) : (
          <div className="grid h-full place-items-center text-sm text-stone-400">No image</div>
        )}
        {soldOut && (
          <span className="absolute left-3 top-3 rounded-full bg-white/95 px-2.5 py-1 text-xs font-semibold text-stone-700 shadow-sm">
            Sold out
          </span>
        )}
      </div>
      <div className="mt-3 flex items-start justify-between gap-3">
        <div className="min-w-0">
          <h3 className="text-sm font-semibold text-stone-900">
            <Link to={`/products/${encodeURIComponent(product.handle)}`} className="after:absolute after:inset-0 focus-visible:outline-none">
              {product.title}
            </Link>
          </h3>
          {product.subtitle && <p className="mt-0.5 truncate text-xs text-stone-500">{product.subtitle}</p>}
        </div>
        <ProductPrice product={product} className="shrink-0 text-sm font-semibold" />
      </div>
    </article>
  );
}

export function ProductGridSkeleton({ count = 8 }: { count?: number }) {
  return (
    <div className="grid grid-cols-2 gap-x-4 gap-y-8 sm:gap-x-6 lg:grid-cols-4" aria-hidden="true">
      {Array.from({ length: count }, (_, i) => (
        <div key={i} className="animate-pulse">
          <div className="aspect-square rounded-2xl bg-stone-200" />
          <div className="mt-3 h-4 w-2/3 rounded bg-stone-200" />
          <div className="mt-2 h-3 w-1/3 rounded bg-stone-200" />
        </div>
      ))}
    </div>
  );
}

export function ProductGrid({ products }: { products: Product[] }) {
  return (
    <ul className="grid grid-cols-2 gap-x-4 gap-y-8 sm:gap-x-6 lg:grid-cols-4" aria-label="Products">
      {products.map((product, index) => (
        <li key={product.id} className="focus-within:rounded-2xl focus-within:outline-2 focus-within:outline-offset-4 focus-within:outline-stone-900">
          <ProductCard product={product} priority={index < 4} />
        </li>
      ))}
    </ul>
  );
}
