const SHORTCUTS: [keys: string[], what: string][] = [
  [['a'], 'approve: the customer gets the tag'],
  [['r'], 'reject, with a reason (Enter confirms, Escape cancels)'],
  [['c'], 'correct to another tag of the same category (a digit, or arrows and Enter)'],
  [['s'], 'skip for now'],
  [['j', '↓'], 'next suggestion'],
  [['k', '↑'], 'previous suggestion'],
  [['?'], 'show or hide this list'],
];

/** The queue's keys, always on screen in short; `?` (or the button) lists what each does. */
export function ShortcutHelp(props: { expanded: boolean; onToggle(): void }) {
  return (
    <section className="shortcuts" aria-labelledby="shortcuts-title">
      <h2 id="shortcuts-title" className="visually-hidden">
        Keyboard shortcuts
      </h2>
      <p>
        {SHORTCUTS.slice(0, 6).map(([keys, what]) => (
          <span key={what}>
            {keys.map((key) => (
              <kbd key={key}>{key}</kbd>
            ))}{' '}
            {what.split(/[:,(]/)[0]}
          </span>
        ))}
        <button
          type="button"
          aria-expanded={props.expanded}
          aria-controls="shortcut-list"
          onClick={props.onToggle}
        >
          Shortcuts <kbd>?</kbd>
        </button>
      </p>
      {props.expanded && (
        <dl id="shortcut-list">
          {SHORTCUTS.map(([keys, what]) => (
            <div key={what}>
              <dt>
                {keys.map((key) => (
                  <kbd key={key}>{key}</kbd>
                ))}
              </dt>
              <dd>{what}</dd>
            </div>
          ))}
        </dl>
      )}
    </section>
  );
}
