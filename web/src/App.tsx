import type { ReactNode } from 'react';
import { Link, Redirect, Route, Switch, useLocation } from 'wouter';
import { ConflictsPage } from './pages/conflicts/ConflictsPage';
import { CustomerPage } from './pages/customer/CustomerPage';
import { CustomerSearch } from './pages/customer/CustomerSearch';
import { ModelsPage } from './pages/models/ModelsPage';
import { QueuePage } from './pages/queue/QueuePage';
import { abilities, useSession } from './session';

/** The signed-in shell: what the role may use, and the page the address names. */
export function App() {
  const { viewer, signOut } = useSession();
  const can = abilities(viewer);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <nav aria-label="Main">
          <span className="brand">Tagwise</span>
          {can.review && <NavLink href="/queue">Queue</NavLink>}
          <NavLink href="/customers">Customers</NavLink>
          {can.science && <NavLink href="/models">Models</NavLink>}
          {can.rules && <NavLink href="/conflicts">Rule conflicts</NavLink>}
          {/* GraphiQL is a page of its own, served by the API at GET /graphql. */}
          <a href="/graphql">GraphiQL</a>
        </nav>
        <div className="who">
          <span>
            {viewer.name} · {viewer.role.toLowerCase().replace('_', ' ')}
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Switch>
          {can.review && <Route path="/queue" component={QueuePage} />}
          <Route path="/customers" component={CustomerSearch} />
          <Route path="/customers/:id">{(params) => <CustomerPage id={params.id} />}</Route>
          <Route path="/models" component={ModelsPage} />
          <Route path="/conflicts" component={ConflictsPage} />
          <Route>
            <Home review={can.review} science={can.science} />
          </Route>
        </Switch>
      </main>
    </>
  );
}

/** A nav link marked as the current page where the address is its route or one under it. */
function NavLink(props: { href: string; children: ReactNode }) {
  const [location] = useLocation();
  const current = location === props.href || location.startsWith(`${props.href}/`);
  return (
    <Link href={props.href} aria-current={current ? 'page' : undefined}>
      {props.children}
    </Link>
  );
}

function Home(props: { review: boolean; science: boolean }) {
  if (props.review) return <Redirect to="/queue" replace />;
  if (props.science) return <Redirect to="/models" replace />;
  return (
    <p>
      This key may read but not review or manage models. The <Link href="/graphql">API</Link> is
      open to it.
    </p>
  );
}
