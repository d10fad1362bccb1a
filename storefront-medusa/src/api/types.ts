// The subset of Medusa v1 Store API payloads the storefront reads. Amounts are integers in the
// currency's smallest unit (cents), as Medusa stores them.

export interface Country {
  id: number;
  iso_2: string;
  display_name: string;
  name?: string;
}

export interface Region {
  id: string;
  name: string;
  currency_code: string;
  tax_rate?: number;
  countries: Country[];
  payment_providers?: { id: string }[];
}

export interface MoneyAmount {
  currency_code: string;
  amount: number;
  region_id?: string | null;
}

export interface ProductOptionValue {
  id?: string;
  value: string;
  option_id: string;
  variant_id?: string;
}

export interface ProductOption {
  id: string;
  title: string;
  values: ProductOptionValue[];
}

export interface ProductVariant {
  id: string;
  title: string;
  sku?: string | null;
  inventory_quantity: number;
  manage_inventory: boolean;
  allow_backorder: boolean;
  options: ProductOptionValue[];
  prices?: MoneyAmount[];
  original_price?: number | null;
  calculated_price?: number | null;
}

export interface ProductImage {
  id: string;
  url: string;
}

export interface ProductCollection {
  id: string;
  title: string;
  handle: string;
}

export interface ProductCategory {
  id: string;
  name: string;
  handle: string;
  parent_category_id: string | null;
}

export interface Product {
  id: string;
  title: string;
  subtitle?: string | null;
  description?: string | null;
  handle: string;
  thumbnail?: string | null;
  images?: ProductImage[];
  options: ProductOption[];
  variants: ProductVariant[];
  collection?: ProductCollection | null;
  collection_id?: string | null;
}

export interface Address {
  first_name?: string | null;
  last_name?: string | null;
  company?: string | null;
  address_1?: string | null;
  address_2?: string | null;
  city?: string | null;
  province?: string | null;
  postal_code?: string | null;
  country_code?: string | null;
  phone?: string | null;
}

export interface LineItem {
  id: string;
  title: string;
  description?: string | null;
  thumbnail?: string | null;
  quantity: number;
  unit_price: number;
  subtotal?: number;
  total?: number;
  variant_id?: string | null;
  variant?: (ProductVariant & { product?: Pick<Product, "id" | "handle" | "title"> }) | null;
}

export interface ShippingOption {
  id: string;
  name: string;
  amount: number | null;
  price_incl_tax?: number | null;
  data?: Record<string, unknown>;
}

export interface ShippingMethod {
  id: string;
  shipping_option_id: string;
  shipping_option?: ShippingOption;
  price: number;
}

export interface PaymentSession {
  id: string;
  provider_id: string;
  is_selected: boolean | null;
  status: string;
}

export interface Cart {
  id: string;
  email?: string | null;
  region_id: string;
  region?: Region;
  items: LineItem[];
  shipping_address?: (Address & { id?: string }) | null;
  billing_address?: Address | null;
  shipping_methods: ShippingMethod[];
  payment_sessions: PaymentSession[];
  payment_session?: PaymentSession | null;
  completed_at?: string | null;
  customer_id?: string | null;
  subtotal?: number;
  shipping_total?: number;
  tax_total?: number | null;
  discount_total?: number;
  total?: number;
}

export interface Order {
  id: string;
  display_id: number;
  email: string;
  created_at: string;
  status: string;
  fulfillment_status: string;
  payment_status: string;
  currency_code: string;
  items: LineItem[];
  shipping_address?: Address | null;
  shipping_methods: ShippingMethod[];
  payments?: { provider_id: string }[];
  region?: Region;
  subtotal: number;
  shipping_total: number;
  tax_total: number | null;
  discount_total: number;
  total: number;
}

export interface Customer {
  id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  phone?: string | null;
  created_at?: string;
  has_account?: boolean;
}

export type CompleteCartResponse =
  | { type: "order"; data: Order }
  | { type: "cart"; data: Cart }
  | { type: "swap"; data: unknown };
