#!/usr/bin/env node
// Writes e2e/seed.json, the `medusa seed -f` file of the end-to-end store.
//
// The catalogue is chosen to exercise the storefront: two regions (EUR and USD), collections and
// categories, more products than one page holds, and products with several options where one
// combination does not exist (Classic Tee: L / Forest) and one is out of stock (Classic Tee:
// M / White). Images are self-contained SVG data URIs, so pages render without any network.
//
//   node e2e/build-seed.mjs        (rewrites e2e/seed.json; commit the result)

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

const COLORS = {
  Black: "#1f2328",
  White: "#f4f1ea",
  Forest: "#2f5d46",
  Grey: "#8a8f98",
  Navy: "#24345c",
  Sand: "#d8c3a0",
  Charcoal: "#3b3f45",
  Mustard: "#d9a521",
  Rust: "#b5532e",
  Natural: "#e9dfc8",
  Ocean: "#2f6f8f",
  Sage: "#9bb39a",
  Clay: "#c98b6b",
};

const BACKGROUNDS = ["#eef2ef", "#f3eee8", "#eceff5", "#f5efe6", "#eef0f3"];

// Simple silhouettes on a 400×400 canvas.
const SHAPES = {
  tee: "M120 95 L165 75 Q200 100 235 75 L280 95 L330 150 L290 180 L270 160 L270 320 L130 320 L130 160 L110 180 L70 150 Z",
  hoodie:
    "M150 90 Q200 40 250 90 L290 105 L335 200 L295 215 L272 170 L272 325 L128 325 L128 170 L105 215 L65 200 L110 105 Z M175 100 Q200 135 225 100",
  jacket: "M140 85 L200 105 L260 85 L300 110 L335 230 L298 240 L275 180 L275 330 L125 330 L125 180 L102 240 L65 230 L100 110 Z",
  tote: "M110 150 L290 150 L305 330 L95 330 Z M150 150 Q150 80 200 80 Q250 80 250 150",
  beanie: "M105 250 Q105 110 200 105 Q295 110 295 250 Z M95 245 L305 245 L305 290 L95 290 Z M185 85 Q200 70 215 85 Q215 105 200 105 Q185 105 185 85",
  cap: "M110 230 Q110 130 200 125 Q290 130 290 230 Z M200 230 L345 230 Q340 262 290 262 L200 262 Z",
  sneaker: "M70 290 L70 220 Q110 215 150 170 L200 175 Q230 225 330 240 Q350 250 345 290 Z M70 290 L345 290 L345 305 L70 305 Z",
  mug: "M120 130 L260 130 L260 300 Q260 320 240 320 L140 320 Q120 320 120 300 Z M260 170 Q320 170 320 220 Q320 265 260 265 L260 245 Q298 245 298 218 Q298 190 260 192 Z",
  bottle: "M175 80 L225 80 L225 115 Q265 140 265 185 L265 320 Q265 335 250 335 L150 335 Q135 335 135 320 L135 185 Q135 140 175 115 Z",
  socks: "M150 80 L210 80 L210 230 Q210 250 230 260 L285 285 Q310 300 295 325 Q285 340 255 330 L175 295 Q150 285 150 255 Z",
  backpack: "M130 130 Q130 95 200 95 Q270 95 270 130 L275 320 Q275 335 260 335 L140 335 Q125 335 125 320 Z M165 95 Q165 60 200 60 Q235 60 235 95 M155 225 L245 225 L245 295 L155 295 Z",
  candle: "M140 160 L260 160 L260 320 Q260 335 245 335 L155 335 Q140 335 140 320 Z M200 150 Q180 115 200 80 Q220 115 200 150",
  notebook: "M120 85 L285 85 Q295 85 295 95 L295 320 Q295 330 285 330 L120 330 Z M145 85 L145 330",
  scarf: "M130 90 L270 90 L270 140 L230 150 L240 330 L195 330 L185 155 L130 140 Z",
};

function svgImage(shape, color, index) {
  const background = BACKGROUNDS[index % BACKGROUNDS.length];
  const stroke = color === COLORS.White || color === COLORS.Natural ? "#b9b2a5" : "rgba(0,0,0,0.18)";
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400">` +
    `<rect width="400" height="400" fill="${background}"/>` +
    `<ellipse cx="200" cy="352" rx="120" ry="12" fill="rgba(0,0,0,0.07)"/>` +
    `<path d="${SHAPES[shape]}" fill="${color}" stroke="${stroke}" stroke-width="4" stroke-linejoin="round" fill-rule="evenodd"/>` +
    `</svg>`;
  return `data:image/svg+xml;utf8,${encodeURIComponent(svg)}`;
}

/** Prices in cents: EUR amount and USD amount. */
const price = (eur, usd) => [
  { currency_code: "eur", amount: eur },
  { currency_code: "usd", amount: usd },
];

let imageIndex = 0;
function images(shape, colorNames) {
  return colorNames.map((name) => svgImage(shape, COLORS[name], imageIndex++));
}

/**
 * Builds a product with every combination of its options, minus `missing`, with stock from
 * `stock` (default plenty). `prices` applies to every variant unless `priceFor` overrides.
 */
function product({ title, handle, description, shape, collection, categories, options, missing = [], stock = {}, prices, priceFor, imageColors, material }) {
  const combos = options.reduce((acc, option) => acc.flatMap((prefix) => option.values.map((v) => [...prefix, v])), [[]]);
  const key = (combo) => combo.join(" / ");
  const variants = combos
    .filter((combo) => !missing.includes(key(combo)))
    .map((combo) => ({
      title: key(combo),
      sku: `${handle}-${combo.map((v) => v.toLowerCase().replace(/[^a-z0-9]+/g, "")).join("-")}`,
      inventory_quantity: stock[key(combo)] ?? 500,
      manage_inventory: true,
      allow_backorder: false,
      prices: priceFor?.(combo) ?? prices,
      options: combo.map((value) => ({ value })),
    }));
  const colorOption = options.find((o) => o.title === "Color");
  const gallery = images(shape, imageColors ?? colorOption?.values ?? ["Charcoal"]);
  return {
    title,
    subtitle: material,
    handle,
    description,
    collection_id: collection,
    categories: categories.map((id) => ({ id })),
    is_giftcard: false,
    discountable: true,
    thumbnail: gallery[0],
    images: gallery,
    options: options.map((o) => ({ title: o.title, values: o.values })),
    variants,
  };
}

const seed = {
  store: { currencies: ["eur", "usd"] },
  users: [{ email: "admin@storeflow.test", password: "storeflow-e2e-admin" }],
  regions: [
    {
      id: "region_eu",
      name: "Europe",
      currency_code: "eur",
      tax_rate: 20,
      payment_providers: ["manual"],
      fulfillment_providers: ["manual"],
      countries: ["de", "fr", "nl", "es", "it"],
    },
    {
      id: "region_us",
      name: "United States",
      currency_code: "usd",
      tax_rate: 0,
      payment_providers: ["manual"],
      fulfillment_providers: ["manual"],
      countries: ["us"],
    },
  ],
  shipping_options: [
    { name: "Standard delivery", region_id: "region_eu", provider_id: "manual", data: { id: "manual-fulfillment" }, price_type: "flat_rate", amount: 495 },
    { name: "Express delivery", region_id: "region_eu", provider_id: "manual", data: { id: "manual-fulfillment" }, price_type: "flat_rate", amount: 1290 },
    { name: "Standard delivery", region_id: "region_us", provider_id: "manual", data: { id: "manual-fulfillment" }, price_type: "flat_rate", amount: 599 },
    { name: "Express delivery", region_id: "region_us", provider_id: "manual", data: { id: "manual-fulfillment" }, price_type: "flat_rate", amount: 1499 },
  ],
  product_collections: [
    { id: "pcol_essentials", title: "Everyday Essentials", handle: "essentials" },
    { id: "pcol_outdoor", title: "Outdoor", handle: "outdoor" },
    { id: "pcol_home", title: "Home & Desk", handle: "home" },
  ],
  categories: [
    { id: "pcat_clothing", name: "Clothing", handle: "clothing", is_active: true, is_internal: false },
    { id: "pcat_accessories", name: "Accessories", handle: "accessories", is_active: true, is_internal: false },
    { id: "pcat_footwear", name: "Footwear", handle: "footwear", is_active: true, is_internal: false },
    { id: "pcat_home", name: "Home", handle: "home-goods", is_active: true, is_internal: false },
  ],
  products: [
    product({
      title: "Classic Tee",
      handle: "classic-tee",
      material: "100% organic cotton",
      description: "A heavyweight everyday T-shirt in organic cotton, cut for a relaxed fit that keeps its shape wash after wash.",
      shape: "tee",
      collection: "pcol_essentials",
      categories: ["pcat_clothing"],
      options: [
        { title: "Size", values: ["S", "M", "L"] },
        { title: "Color", values: ["Black", "White", "Forest"] },
      ],
      missing: ["L / Forest"],
      stock: { "M / White": 0 },
      prices: price(2500, 2800),
    }),
    product({
      title: "Everyday Hoodie",
      handle: "everyday-hoodie",
      material: "Brushed fleece",
      description: "A midweight hoodie with a brushed interior, a lined hood and a kangaroo pocket.",
      shape: "hoodie",
      collection: "pcol_essentials",
      categories: ["pcat_clothing"],
      options: [
        { title: "Size", values: ["S", "M", "L", "XL"] },
        { title: "Color", values: ["Grey", "Navy"] },
      ],
      stock: { "XL / Navy": 0 },
      prices: price(6500, 7200),
    }),
    product({
      title: "Linen Overshirt",
      handle: "linen-overshirt",
      material: "Washed linen",
      description: "A light overshirt in washed linen with two chest pockets. Wear it open over a tee or buttoned up.",
      shape: "jacket",
      collection: "pcol_essentials",
      categories: ["pcat_clothing"],
      options: [
        { title: "Size", values: ["S", "M", "L"] },
        { title: "Color", values: ["Sand", "Sage"] },
      ],
      prices: price(7900, 8900),
    }),
    product({
      title: "Rain Shell Jacket",
      handle: "rain-shell-jacket",
      material: "Recycled nylon, 10k waterproof",
      description: "A packable waterproof shell with taped seams and an adjustable hood, for sudden showers on the trail.",
      shape: "jacket",
      collection: "pcol_outdoor",
      categories: ["pcat_clothing"],
      options: [
        { title: "Size", values: ["S", "M", "L", "XL"] },
        { title: "Color", values: ["Ocean", "Rust"] },
      ],
      missing: ["S / Rust"],
      prices: price(12900, 14500),
    }),
    product({
      title: "Trail Runner Sneakers",
      handle: "trail-runner-sneakers",
      material: "Mesh upper, grippy outsole",
      description: "Light trail shoes with a breathable mesh upper and a lugged outsole that grips on gravel and wet rock.",
      shape: "sneaker",
      collection: "pcol_outdoor",
      categories: ["pcat_footwear"],
      options: [
        { title: "Size", values: ["40", "41", "42", "43", "44"] },
        { title: "Color", values: ["Black", "Sand"] },
      ],
      stock: { "44 / Sand": 0 },
      prices: price(11000, 12500),
    }),
    product({
      title: "Merino Beanie",
      handle: "merino-beanie",
      material: "Merino wool",
      description: "A soft ribbed beanie knitted from fine merino wool. Warm, breathable and itch-free.",
      shape: "beanie",
      collection: "pcol_outdoor",
      categories: ["pcat_accessories"],
      options: [{ title: "Color", values: ["Charcoal", "Mustard", "Forest"] }],
      prices: price(2900, 3200),
    }),
    product({
      title: "Canvas Tote Bag",
      handle: "canvas-tote-bag",
      material: "Heavy cotton canvas",
      description: "A roomy tote in heavy canvas with long handles and an inner pocket for keys.",
      shape: "tote",
      collection: "pcol_essentials",
      categories: ["pcat_accessories"],
      options: [{ title: "Color", values: ["Natural", "Black"] }],
      prices: price(1900, 2200),
    }),
    product({
      title: "Daypack 20L",
      handle: "daypack-20l",
      material: "Recycled polyester",
      description: "A 20-litre daypack with a padded laptop sleeve, water-bottle pockets and a quick-access top pocket.",
      shape: "backpack",
      collection: "pcol_outdoor",
      categories: ["pcat_accessories"],
      options: [{ title: "Color", values: ["Navy", "Clay"] }],
      prices: price(8900, 9900),
    }),
    product({
      title: "Wool Hiking Socks",
      handle: "wool-hiking-socks",
      material: "Merino blend",
      description: "Cushioned merino-blend socks for long days on foot. Sold as a pair.",
      shape: "socks",
      collection: "pcol_outdoor",
      categories: ["pcat_clothing"],
      options: [
        { title: "Size", values: ["36-40", "41-45"] },
        { title: "Color", values: ["Grey", "Rust"] },
      ],
      prices: price(1600, 1800),
    }),
    product({
      title: "Baseball Cap",
      handle: "baseball-cap",
      material: "Cotton twill",
      description: "A six-panel cap in washed cotton twill with an adjustable strap.",
      shape: "cap",
      collection: "pcol_essentials",
      categories: ["pcat_accessories"],
      options: [{ title: "Color", values: ["Navy", "Sand", "Forest"] }],
      prices: price(2400, 2700),
    }),
    product({
      title: "Stoneware Mug",
      handle: "stoneware-mug",
      material: "Glazed stoneware, 350 ml",
      description: "A hand-glazed stoneware mug that holds a generous 350 ml. Dishwasher safe.",
      shape: "mug",
      collection: "pcol_home",
      categories: ["pcat_home"],
      options: [{ title: "Color", values: ["White", "Sage", "Clay"] }],
      prices: price(1800, 2000),
    }),
    product({
      title: "Insulated Bottle",
      handle: "insulated-bottle",
      material: "Stainless steel, 750 ml",
      description: "Keeps drinks cold for 24 hours or hot for 12. Leak-proof lid, fits most cup holders.",
      shape: "bottle",
      collection: "pcol_outdoor",
      categories: ["pcat_home", "pcat_accessories"],
      options: [{ title: "Color", values: ["Ocean", "Black", "Mustard"] }],
      stock: { Mustard: 0 },
      prices: price(3400, 3800),
    }),
    product({
      title: "Soy Wax Candle",
      handle: "soy-wax-candle",
      material: "Soy wax, cotton wick",
      description: "A slow-burning soy candle scented with cedar and bergamot. Around 40 hours of burn time.",
      shape: "candle",
      collection: "pcol_home",
      categories: ["pcat_home"],
      options: [{ title: "Scent", values: ["Cedar", "Fig"] }],
      imageColors: ["Natural", "Clay"],
      prices: price(2200, 2500),
    }),
    product({
      title: "Dot Grid Notebook",
      handle: "dot-grid-notebook",
      material: "A5, 160 pages",
      description: "A lay-flat A5 notebook with 160 pages of dot-grid paper that takes fountain-pen ink without bleeding.",
      shape: "notebook",
      collection: "pcol_home",
      categories: ["pcat_home"],
      options: [{ title: "Cover", values: ["Navy", "Rust"] }],
      imageColors: ["Navy", "Rust"],
      prices: price(1400, 1600),
    }),
  ],
  publishable_api_keys: [{ title: "Storefront e2e" }],
};

const target = path.join(here, "seed.json");
fs.writeFileSync(target, `${JSON.stringify(seed, null, 2)}\n`);
process.stderr.write(`wrote ${path.relative(process.cwd(), target)}: ${seed.products.length} products, ${seed.products.reduce((n, p) => n + p.variants.length, 0)} variants\n`);
