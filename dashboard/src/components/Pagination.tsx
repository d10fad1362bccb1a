// Page navigation over `{total, limit, offset}`, or over pages of unknown total (runs).

import { pageInfo, pageItems } from "../lib/pagination";
import { IconChevronLeft, IconChevronRight } from "./icons";
import { cx } from "./ui";

const item =
  "inline-flex h-8 min-w-8 items-center justify-center rounded-md px-2 text-sm font-medium focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-indigo-600";

export function Pagination({
  total,
  limit,
  offset,
  onPage,
  noun = "results",
}: {
  total: number;
  limit: number;
  offset: number;
  onPage: (page: number) => void;
  noun?: string;
}) {
  const info = pageInfo(total, limit, offset);
  return (
    <nav
      aria-label="Pagination"
      className="flex flex-col items-center justify-between gap-3 border-t border-slate-100 px-4 py-3 sm:flex-row"
    >
      <p className="text-sm text-slate-600" aria-live="polite">
        {info.total === 0 ? (
          `No ${noun}`
        ) : (
          <>
            Showing <span className="font-medium text-slate-900">{info.from}</span>–
            <span className="font-medium text-slate-900">{info.to}</span> of{" "}
            <span className="font-medium text-slate-900">{info.total}</span> {noun}
          </>
        )}
      </p>
      {info.pageCount > 1 ? (
        <ul className="flex items-center gap-1">
          <li>
            <button
              type="button"
              className={cx(
                item,
                "text-slate-700 hover:bg-slate-100 disabled:text-slate-300 disabled:hover:bg-transparent",
              )}
              disabled={!info.hasPrevious}
              onClick={() => onPage(info.page - 1)}
              aria-label="Previous page"
            >
              <IconChevronLeft />
            </button>
          </li>
          {pageItems(info.page, info.pageCount).map((p, i) =>
            p === "gap" ? (
              <li key={`gap-${i}`} className="px-1 text-slate-600" aria-hidden="true">
                …
              </li>
            ) : (
              <li key={p} className="hidden sm:block">
                <button
                  type="button"
                  className={cx(
                    item,
                    p === info.page ? "bg-indigo-600 text-white" : "text-slate-700 hover:bg-slate-100",
                  )}
                  aria-current={p === info.page ? "page" : undefined}
                  aria-label={`Page ${p}`}
                  onClick={() => onPage(p)}
                >
                  {p}
                </button>
              </li>
            ),
          )}
          <li className="px-2 text-sm text-slate-600 sm:hidden">
            {info.page} / {info.pageCount}
          </li>
          <li>
            <button
              type="button"
              className={cx(
                item,
                "text-slate-700 hover:bg-slate-100 disabled:text-slate-300 disabled:hover:bg-transparent",
              )}
              disabled={!info.hasNext}
              onClick={() => onPage(info.page + 1)}
              aria-label="Next page"
            >
              <IconChevronRight />
            </button>
          </li>
        </ul>
      ) : null}
    </nav>
  );
}
