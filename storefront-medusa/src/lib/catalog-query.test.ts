import { describe, expect, it } from "vitest";
import { catalogSearchParams, pageCount, parseCatalogQuery, storeProductsQuery, updateCatalogQuery } from "./catalog-query";

describe("catalogue URL state", () => {
  it("parses and defaults", () => {
    expect(parseCatalogQuery(new URLSearchParams(""))).toEqual({ q: "", collection: null, category: null, sort: "title", page: 1 });
    expect(parseCatalogQuery(new URLSearchParams("q=%20tee%20&collection=pcol_1&category=pcat_2&sort=-created_at&page=3"))).toEqual({
      q: "tee",
      collection: "pcol_1",
      category: "pcat_2",
      sort: "-created_at",
      page: 3,
    });
  });

  it("ignores invalid sorts and pages", () => {
    const query = parseCatalogQuery(new URLSearchParams("sort=price;drop&page=-2"));
    expect(query.sort).toBe("title");
    expect(query.page).toBe(1);
    expect(parseCatalogQuery(new URLSearchParams("page=abc")).page).toBe(1);
  });

  it("writes short URLs and round-trips", () => {
    expect(catalogSearchParams({ q: "", sort: "title", page: 1 }).toString()).toBe("");
    const params = catalogSearchParams({ q: "mug", collection: "pcol_home", sort: "-title", page: 2 });
    expect(params.toString()).toBe("q=mug&collection=pcol_home&sort=-title&page=2");
    expect(parseCatalogQuery(params)).toMatchObject({ q: "mug", collection: "pcol_home", sort: "-title", page: 2 });
  });

  it("returns to page 1 when a filter changes, not when the page changes", () => {
    const current = parseCatalogQuery(new URLSearchParams("q=tee&page=3"));
    expect(updateCatalogQuery(current, { category: "pcat_1" }).get("page")).toBeNull();
    expect(updateCatalogQuery(current, { page: 4 }).get("page")).toBe("4");
  });
});

describe("storeProductsQuery", () => {
  it("maps the view to Medusa's list parameters", () => {
    const query = parseCatalogQuery(new URLSearchParams("q=tee&collection=pcol_1&category=pcat_2&page=2"));
    const params = storeProductsQuery(query, "reg_eu", 12);
    expect(params.get("limit")).toBe("12");
    expect(params.get("offset")).toBe("12");
    expect(params.get("order")).toBe("title");
    expect(params.get("q")).toBe("tee");
    expect(params.getAll("collection_id[]")).toEqual(["pcol_1"]);
    expect(params.getAll("category_id[]")).toEqual(["pcat_2"]);
    expect(params.get("region_id")).toBe("reg_eu");
  });

  it("counts pages", () => {
    expect(pageCount(0)).toBe(1);
    expect(pageCount(12, 12)).toBe(1);
    expect(pageCount(13, 12)).toBe(2);
  });
});
