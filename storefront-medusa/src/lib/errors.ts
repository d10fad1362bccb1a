// Turns any failure into a sentence a shopper can act on.

import { ApiError } from "../api/client";

export interface FriendlyError {
  title: string;
  message: string;
  /** Whether trying the same thing again may help. */
  retryable: boolean;
}

const KNOWN_MESSAGES: [RegExp, string][] = [
  [/shipping country (must be in|not in) (the cart )?region/i, "We can't deliver to that country from this region. Choose one of the countries listed, or switch region."],
  [/insufficient.?inventory|does not have the required inventory/i, "Sorry, there isn't enough stock for that quantity. Lower the quantity or choose another option."],
  [/invalid email or password/i, "That email and password don't match an account. Check them and try again."],
  [/customer.*already exists|already has an account|email.*already/i, "An account with this email already exists. Sign in instead."],
  [/payment session|payment_session/i, "The payment could not be prepared. Go back a step and try again."],
  [/cart.*completed|already completed/i, "This cart has already been turned into an order."],
];

export function friendlyError(error: unknown): FriendlyError {
  if (error instanceof ApiError) {
    if (error.status === 0) {
      return { title: "Can't reach the store", message: "Check your internet connection, then try again.", retryable: true };
    }
    if (error.status === -1) {
      return { title: "The store is slow to answer", message: "It took too long to respond. Please try again in a moment.", retryable: true };
    }
    for (const [pattern, message] of KNOWN_MESSAGES) {
      if (pattern.test(error.message)) return { title: "That didn't work", message, retryable: false };
    }
    if (error.status === 401) {
      return { title: "Please sign in", message: "Your session has ended. Sign in again to continue.", retryable: false };
    }
    if (error.status === 404) {
      return { title: "Not found", message: "We couldn't find what you were looking for. It may have been removed.", retryable: false };
    }
    if (error.status === 429) {
      return { title: "Too many requests", message: "Please wait a few seconds, then try again.", retryable: true };
    }
    if (error.status >= 500) {
      return { title: "The store is having trouble", message: "Something went wrong on our side. Please try again in a moment.", retryable: true };
    }
    return { title: "That didn't work", message: error.message, retryable: false };
  }
  if (error instanceof Error && error.message) {
    return { title: "Something went wrong", message: error.message, retryable: true };
  }
  return { title: "Something went wrong", message: "An unexpected error happened. Please try again.", retryable: true };
}

/** Transient failures (network, timeouts, 5xx, 429) are worth an automatic retry; client errors are not. */
export function shouldRetry(failureCount: number, error: unknown): boolean {
  if (failureCount >= 2) return false;
  if (error instanceof ApiError) return error.status <= 0 || error.status >= 500 || error.status === 429;
  return false;
}
