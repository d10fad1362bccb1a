import { describe, expect, it } from "vitest";

import { isStoreId, storeNameProblems, storePasswordProblems } from "./storeRules";

// The cases of server/src/store_rules.rs's tests, with the API's messages.
describe("storeNameProblems", () => {
  it("accepts DNS labels", () => {
    expect(storeNameProblems("my-shop-2")).toEqual([]);
    expect(storeNameProblems("abc")).toEqual([]);
    expect(storeNameProblems("a".repeat(63))).toEqual([]);
  });

  it("says why everything else is refused", () => {
    expect(storeNameProblems("ab")).toEqual(["Store name must be at least 3 characters."]);
    expect(storeNameProblems("a".repeat(64))).toEqual(["Store name must be at most 63 characters (DNS label limit)."]);
    for (const bad of ["-shop", "shop-", "sh--op", "Shop", "shop_1", "shöp", "my shop"]) {
      expect(storeNameProblems(bad), bad).toContain(
        "Store name must be lowercase letters, digits and single hyphens, not starting or ending with a hyphen.",
      );
    }
    expect(storeNameProblems("admin")).toEqual(["This store name is reserved; choose another."]);
    expect(storeNameProblems("best-porn-shop")).toEqual(["Store name contains inappropriate language."]);
  });

  it("lists every problem at once, like the API", () => {
    expect(storeNameProblems("A")).toHaveLength(2);
    expect(storeNameProblems("")).toEqual(["Store name must be at least 3 characters."]);
  });
});

describe("storePasswordProblems", () => {
  it("allows blank (generated) and 8 to 128 characters", () => {
    expect(storePasswordProblems("")).toEqual([]);
    expect(storePasswordProblems("12345678")).toEqual([]);
    expect(storePasswordProblems("x".repeat(128))).toEqual([]);
    expect(storePasswordProblems("short")).toEqual(["Password must be 8 to 128 characters."]);
    expect(storePasswordProblems("x".repeat(129))).toEqual(["Password must be 8 to 128 characters."]);
    expect(storePasswordProblems("tab\there1")).toEqual(["Password must not contain control characters."]);
  });
});

describe("isStoreId", () => {
  it("matches the API's store id shape", () => {
    expect(isStoreId("store-1a2b3c4d")).toBe(true);
    for (const bad of ["store-1234567", "store-123456789", "store-ABCDEF12", "shop-12345678", "store-1234567g"]) {
      expect(isStoreId(bad), bad).toBe(false);
    }
  });
});
