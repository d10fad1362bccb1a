// Client-side checks of the checkout address form; Medusa validates again on the server.

export interface AddressFields {
  email: string;
  first_name: string;
  last_name: string;
  address_1: string;
  address_2: string;
  city: string;
  postal_code: string;
  province: string;
  country_code: string;
  phone: string;
}

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function validateAddress(fields: AddressFields): Partial<Record<keyof AddressFields, string>> {
  const errors: Partial<Record<keyof AddressFields, string>> = {};
  if (!EMAIL_PATTERN.test(fields.email.trim())) errors.email = "Enter an email address like name@example.com.";
  if (!fields.first_name.trim()) errors.first_name = "Enter your first name.";
  if (!fields.last_name.trim()) errors.last_name = "Enter your last name.";
  if (!fields.address_1.trim()) errors.address_1 = "Enter your street address.";
  if (!fields.city.trim()) errors.city = "Enter your town or city.";
  if (!fields.postal_code.trim()) errors.postal_code = "Enter your postal code.";
  if (!fields.country_code) errors.country_code = "Choose a country.";
  return errors;
}
