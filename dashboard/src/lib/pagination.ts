// Offset pagination over the API's `{total, limit, offset}` answers.

export interface PageInfo {
  /** 1-based. */
  page: number;
  pageCount: number;
  /** 1-based index of the first row shown (0 when there is none). */
  from: number;
  to: number;
  total: number;
  hasPrevious: boolean;
  hasNext: boolean;
}

export function pageInfo(total: number, limit: number, offset: number): PageInfo {
  const size = Math.max(1, limit);
  const pageCount = Math.max(1, Math.ceil(total / size));
  const page = Math.floor(Math.max(0, offset) / size) + 1;
  const from = total === 0 || offset >= total ? 0 : offset + 1;
  const to = from === 0 ? 0 : Math.min(total, offset + size);
  return { page, pageCount, from, to, total, hasPrevious: page > 1, hasNext: page < pageCount };
}

export function offsetOf(page: number, limit: number): number {
  return (Math.max(1, Math.floor(page)) - 1) * limit;
}

/** The page buttons to show: first, last, the current one and its neighbours, "gap"s between. */
export function pageItems(page: number, pageCount: number, neighbours = 1): (number | "gap")[] {
  const wanted = new Set<number>([1, pageCount]);
  for (let p = page - neighbours; p <= page + neighbours; p++) if (p >= 1 && p <= pageCount) wanted.add(p);
  const pages = [...wanted].sort((a, b) => a - b);
  const items: (number | "gap")[] = [];
  pages.forEach((p, i) => {
    const previous = pages[i - 1];
    if (previous !== undefined && p - previous === 2) items.push(previous + 1);
    else if (previous !== undefined && p - previous > 2) items.push("gap");
    items.push(p);
  });
  return items;
}

/** Reads a positive page number from a URL parameter (1 when absent or invalid). */
export function parsePage(value: string | null): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}
