import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import type { Product } from "../api/types";
import { CheckIcon, TruckIcon } from "../components/Icons";
import { ProductPrice } from "../components/ProductCard";
import { QuantityStepper } from "../components/QuantityStepper";
import { Alert, ErrorState, buttonPrimary, buttonSecondary, useDocumentTitle } from "../components/ui";
import { clampQuantity } from "../lib/cart-state";
import { friendlyError } from "../lib/errors";
import { variantPrice } from "../lib/money";
import {
  initialSelection,
  optionChoices,
  selectionStatus,
  valueState,
  type Selection,
} from "../lib/variants";
import { useApp } from "../state/app";
import { useCart } from "../state/cart";
import { useMoney } from "../state/money";

function Gallery({ product, active, onSelect }: { product: Product; active: number; onSelect(index: number): void }) {
  const images = product.images?.length ? product.images.map((i) => i.url) : product.thumbnail ? [product.thumbnail] : [];
  const current = images[Math.min(active, images.length - 1)];
  return (
    <div>
      <div className="aspect-square overflow-hidden rounded-3xl bg-stone-100">
        {current ? (
          <img src={current} alt={`${product.title}, image ${active + 1} of ${images.length}`} className="h-full w-full object-cover" />
        ) : (
          <div className="grid h-full place-items-center text-stone-400">No image</div>
        )}
      </div>
      {images.length > 1 && (
        <ul className="mt-4 grid grid-cols-5 gap-3" aria-label="Product images">
          {images.map((url, index) => (
            <li key={`${index}-${url.slice(-24)}`}>
              <button
                type="button"
                onClick={() => onSelect(index)}
                aria-label={`Show image ${index + 1} of ${images.length}`}
                aria-pressed={index === active}
                className={`block aspect-square w-full overflow-hidden rounded-xl border-2 bg-stone-100 transition ${
                  index === active ? "border-stone-900" : "border-transparent hover:border-stone-300"
                }`}
              >
                <img src={url} alt="" className="h-full w-full object-cover" />
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function BuyBox({ product }: { product: Product }) {
  const { addItem, openDrawer } = useCart();
  const { currency, format } = useMoney();
  const [params] = useSearchParams();
  const [selection, setSelection] = useState<Selection>(() => initialSelection(product, params.get("variant")));
  const [quantity, setQuantity] = useState(1);
  const [adding, setAdding] = useState(false);
  const [added, setAdded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const choices = useMemo(() => optionChoices(product), [product]);
  const status = selectionStatus(product, selection);
  const maxQuantity = status.kind === "ready" ? status.max : 99;

  useEffect(() => {
    setQuantity((q) => clampQuantity(q, maxQuantity));
  }, [maxQuantity]);

  const choose = (optionId: string, value: string) => {
    setSelection((current) => ({ ...current, [optionId]: value }));
    setAdded(false);
    setError(null);
  };

  const add = async () => {
    if (status.kind !== "ready") return;
    setAdding(true);
    setError(null);
    try {
      await addItem(status.variant.id, quantity);
      setAdded(true);
      openDrawer();
    } catch (err) {
      setError(friendlyError(err).message);
    } finally {
      setAdding(false);
    }
  };

  const price =
    status.kind === "ready" || status.kind === "out_of_stock" ? variantPrice(status.variant, currency) : null;

  let message: string;
  let buttonLabel = "Add to cart";
  switch (status.kind) {
    case "incomplete":
      message = `Choose ${status.missing.join(" and ").toLowerCase()}.`;
      buttonLabel = `Choose ${status.missing[0].toLowerCase()}`;
      break;
    case "unavailable":
      message = "This combination is not available. Choose another option.";
      buttonLabel = "Unavailable";
      break;
    case "out_of_stock":
      message = "Out of stock. Choose another option or check back soon.";
      buttonLabel = "Out of stock";
      break;
    case "ready":
      message = status.max < 10 ? `In stock — only ${status.max} left.` : "In stock, ready to ship.";
      break;
  }

  return (
    <div>
      <p className="text-2xl font-semibold" data-testid="product-price">
        {price !== null ? <span className="tabular-nums">{format(price)}</span> : <ProductPrice product={product} />}
      </p>

      <div className="mt-8 space-y-6">
        {choices.map((choice) => (
          <fieldset key={choice.id}>
            <legend className="text-sm font-semibold">
              {choice.title}
              {selection[choice.id] && <span className="font-normal text-stone-600">: {selection[choice.id]}</span>}
            </legend>
            <div className="mt-3 flex flex-wrap gap-2">
              {choice.values.map((value) => {
                const state = valueState(product, selection, choice.id, value);
                const checked = selection[choice.id] === value;
                const note = state === "unavailable" ? " (not available with this selection)" : state === "out_of_stock" ? " (out of stock)" : "";
                return (
                  <label
                    key={value}
                    data-state={state}
                    className={`relative min-w-12 cursor-pointer rounded-full border px-4 py-2 text-center text-sm font-medium transition has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-stone-900 ${
                      checked
                        ? "border-stone-900 bg-stone-900 text-white"
                        : state === "available"
                          ? "border-stone-300 bg-white hover:border-stone-900"
                          : "border-dashed border-stone-300 bg-stone-50 text-stone-400"
                    } ${state === "unavailable" ? "line-through" : ""}`}
                  >
                    <input
                      type="radio"
                      className="sr-only"
                      name={`option-${choice.id}`}
                      value={value}
                      checked={checked}
                      onChange={() => choose(choice.id, value)}
                      aria-label={`${value}${note}`}
                    />
                    {value}
                  </label>
                );
              })}
            </div>
          </fieldset>
        ))}
      </div>

      <p
        className={`mt-6 text-sm font-medium ${status.kind === "ready" ? "text-emerald-800" : status.kind === "incomplete" ? "text-stone-600" : "text-red-700"}`}
        aria-live="polite"
        data-testid="selection-status"
      >
        {message}
      </p>

      <div className="mt-4 flex flex-wrap items-center gap-3">
        <QuantityStepper
          value={quantity}
          max={maxQuantity}
          onChange={setQuantity}
          disabled={status.kind !== "ready" || adding}
          label={`Quantity of ${product.title}`}
        />
        <button type="button" className={`${buttonPrimary} flex-1 sm:flex-none sm:min-w-52`} disabled={status.kind !== "ready" || adding} onClick={add}>
          {adding ? "Adding…" : added ? (
            <>
              <CheckIcon size={18} /> Added to cart
            </>
          ) : (
            buttonLabel
          )}
        </button>
      </div>
      {error && (
        <div className="mt-4">
          <Alert>{error}</Alert>
        </div>
      )}
      <p className="mt-6 flex items-center gap-2 text-sm text-stone-600">
        <TruckIcon size={18} /> Delivery options and costs are shown at checkout.
      </p>
    </div>
  );
}

export function ProductDetailPage() {
  const { handle = "" } = useParams();
  const { api } = useApp();
  const { region, regionsLoading } = useCart();
  const [activeImage, setActiveImage] = useState(0);

  const query = useQuery({
    queryKey: ["product", handle, region?.id],
    queryFn: ({ signal }) => api.productByHandle(handle, region?.id, signal),
    enabled: !regionsLoading,
  });
  const product = query.data;
  useDocumentTitle(product?.title ?? (query.isPending ? undefined : "Product not found"));
  useEffect(() => setActiveImage(0), [handle]);

  if (query.isError) {
    return (
      <div className="px-4 py-20">
        <ErrorState error={query.error} onRetry={() => query.refetch()} />
      </div>
    );
  }
  if (query.isPending) {
    return (
      <div className="mx-auto grid max-w-7xl animate-pulse gap-10 px-4 py-10 sm:px-6 lg:grid-cols-2 lg:px-8" aria-busy="true">
        <div className="aspect-square rounded-3xl bg-stone-200" />
        <div className="space-y-4">
          <div className="h-8 w-2/3 rounded bg-stone-200" />
          <div className="h-6 w-1/4 rounded bg-stone-200" />
          <div className="h-24 rounded bg-stone-200" />
        </div>
        <span className="sr-only" role="status">
          Loading product…
        </span>
      </div>
    );
  }
  if (!product) {
    return (
      <div className="mx-auto max-w-md px-4 py-20 text-center">
        <h1 className="text-2xl font-bold">We couldn't find that product</h1>
        <p className="mt-2 text-stone-600">It may have been renamed or removed from the shop.</p>
        <Link to="/products" className={`${buttonSecondary} mt-6`}>
          Browse all products
        </Link>
      </div>
    );
  }

  // When there is one image per colour, selecting a colour shows its image.
  const colorOption = product.options.find((o) => /^colou?r$/i.test(o.title));
  const colorValues = colorOption ? optionChoices(product).find((c) => c.id === colorOption.id)?.values : undefined;

  return (
    <div className="mx-auto max-w-7xl px-4 py-8 sm:px-6 lg:px-8">
      <nav aria-label="Breadcrumb" className="mb-6 text-sm text-stone-500">
        <ol className="flex flex-wrap items-center gap-2">
          <li>
            <Link to="/products" className="hover:text-stone-900">
              Shop
            </Link>
          </li>
          {product.collection && (
            <>
              <li aria-hidden="true">/</li>
              <li>
                <Link to={`/collections/${encodeURIComponent(product.collection.handle)}`} className="hover:text-stone-900">
                  {product.collection.title}
                </Link>
              </li>
            </>
          )}
          <li aria-hidden="true">/</li>
          <li aria-current="page" className="font-medium text-stone-900">
            {product.title}
          </li>
        </ol>
      </nav>
      <div className="grid gap-10 lg:grid-cols-2 lg:gap-16">
        <Gallery product={product} active={activeImage} onSelect={setActiveImage} />
        <div
          onChange={(event) => {
            const target = event.target as HTMLInputElement;
            if (colorOption && colorValues && target.name === `option-${colorOption.id}` && product.images?.length === colorValues.length) {
              const index = colorValues.indexOf(target.value);
              if (index >= 0) setActiveImage(index);
            }
          }}
        >
          <h1 className="text-3xl font-bold tracking-tight sm:text-4xl" data-testid="product-title">
            {product.title}
          </h1>
          {product.subtitle && <p className="mt-2 text-stone-600">{product.subtitle}</p>}
          <div className="mt-6">
            <BuyBox key={`${product.id}-${region?.id ?? ""}`} product={product} />
          </div>
          {product.description && (
            <section aria-labelledby="description-title" className="mt-10 border-t border-stone-200 pt-8">
              <h2 id="description-title" className="text-sm font-semibold">
                Description
              </h2>
              <p className="mt-3 leading-relaxed text-stone-700">{product.description}</p>
            </section>
          )}
        </div>
      </div>
    </div>
  );
}
