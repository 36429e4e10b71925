import { useEffect, useRef, type ReactNode } from 'react';
import { ApiError } from '../../api';
import './pages.css';

/**
 * A page's one h1, which names the page in the tab's title and takes focus when the page opens:
 * a screen reader hears where a link led, and Tab continues from the top of the new page.
 */
export function PageHeading(props: { children: string }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.children} · Tagwise`;
    heading.current?.focus();
  }, [props.children]);
  return (
    <h1 ref={heading} tabIndex={-1}>
      {props.children}
    </h1>
  );
}

/** The API's refusal or failure, with its code, announced as it appears. */
export function ErrorNote(props: { error: unknown; prefix?: string }) {
  const message =
    props.error instanceof ApiError
      ? `${props.error.message} (${props.error.code})`
      : props.error instanceof Error
        ? props.error.message
        : String(props.error);
  return (
    <p role="alert" className="error">
      {props.prefix ? `${props.prefix}: ` : ''}
      {message}
    </p>
  );
}

export function Loading(props: { what: string }) {
  return <p role="status">Loading {props.what}…</p>;
}

/** What a role without the page's ability sees on coming to it by its address. */
export function NotForThisRole(props: { page: string; who: string; children?: ReactNode }) {
  return (
    <section className="console-page">
      <PageHeading>{props.page}</PageHeading>
      <p role="alert" className="error">
        This page is for {props.who}. Your key’s role may not use it; sign in with another key, or
        ask an admin.
      </p>
      {props.children}
    </section>
  );
}
