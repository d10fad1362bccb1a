import { describe, expect, it } from "vitest";
import { validateAddress, type AddressFields } from "./checkout";

const valid: AddressFields = {
  email: "ada@example.com",
  first_name: "Ada",
  last_name: "Lovelace",
  address_1: "Unter den Linden 1",
  address_2: "",
  city: "Berlin",
  postal_code: "10117",
  province: "",
  country_code: "de",
  phone: "",
};

describe("validateAddress", () => {
  it("accepts a complete address with optional fields empty", () => {
    expect(validateAddress(valid)).toEqual({});
  });

  it("names every missing required field", () => {
    const errors = validateAddress({ ...valid, email: "ada@", first_name: " ", city: "", country_code: "" });
    expect(Object.keys(errors).sort()).toEqual(["city", "country_code", "email", "first_name"]);
  });
});
