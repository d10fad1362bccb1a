// Types of generate.mjs, for src/api/schema.test.ts.

/** dashboard/openapi.json: the contract, as the server writes it. */
export declare const SPEC_PATH: string;
/** dashboard/src/api/schema.d.ts: the generated types, checked in. */
export declare const SCHEMA_PATH: string;
/**
 * The text of src/api/schema.d.ts for a contract: the file at `spec` (a path), or the document
 * itself (parsed JSON).
 */
export declare function generateApiTypes(spec?: string | object): Promise<string>;
