import { Link, useRoute } from 'wouter';

/** A main-navigation link marked as the current page on its route and the routes under it. */
export function NavLink(props: { href: string; children: string }) {
  const [current] = useRoute(`${props.href}/*?`);
  return (
    <Link href={props.href} aria-current={current ? 'page' : undefined}>
      {props.children}
    </Link>
  );
}
