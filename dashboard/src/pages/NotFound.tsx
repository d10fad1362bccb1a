import { IconSearch } from "../components/icons";
import { ButtonLink, EmptyState } from "../components/ui";
import { useTitle } from "../lib/hooks";

export function NotFoundPage() {
  useTitle("Not found");
  return (
    <EmptyState
      icon={<IconSearch className="size-5" />}
      title="Page not found"
      action={
        <ButtonLink to="/" variant="primary">
          Go to the overview
        </ButtonLink>
      }
    >
      There is nothing at this address.
    </EmptyState>
  );
}
