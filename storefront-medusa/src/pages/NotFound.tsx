import { Link } from "react-router";
import { buttonPrimary, buttonSecondary, useDocumentTitle } from "../components/ui";

export function NotFoundPage() {
  useDocumentTitle("Page not found");
  return (
    <div className="mx-auto max-w-lg px-4 py-24 text-center">
      <p className="text-sm font-semibold uppercase tracking-wide text-emerald-800">404</p>
      <h1 className="mt-2 text-3xl font-bold tracking-tight">This page doesn't exist</h1>
      <p className="mt-3 text-stone-600">The link may be broken, or the page may have moved.</p>
      <div className="mt-8 flex justify-center gap-3">
        <Link to="/" className={buttonPrimary}>
          Go to the home page
        </Link>
        <Link to="/products" className={buttonSecondary}>
          Browse products
        </Link>
      </div>
    </div>
  );
}
