import { useEffect, useRef, useState, type KeyboardEvent } from 'react';

/** Asks why a suggestion is wrong: Enter rejects (a reason is optional), Escape cancels. */
export function RejectPrompt(props: {
  id: string;
  onReject(reason: string): void;
  onCancel(): void;
}) {
  const [reason, setReason] = useState('');
  const inputId = `reject-reason-${props.id}`;
  return (
    <form
      className="prompt"
      onSubmit={(event) => {
        event.preventDefault();
        props.onReject(reason.trim());
      }}
      onKeyDown={(event) => {
        if (event.key !== 'Escape') return;
        event.stopPropagation();
        props.onCancel();
      }}
    >
      <label htmlFor={inputId}>Reason for rejecting</label>
      <input
        id={inputId}
        autoFocus
        value={reason}
        onChange={(event) => setReason(event.target.value)}
        aria-describedby={`${inputId}-hint`}
      />
      <span id={`${inputId}-hint`} className="hint">
        Enter rejects, Escape cancels
      </span>
      <div className="actions">
        <button type="submit" className="danger">
          Reject
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/**
 * The other tags of the suggested tag's category. A digit picks the tag with that number at once;
 * arrows move the selection and Enter picks it; Escape cancels.
 */
export function CorrectPicker(props: {
  id: string;
  category: string;
  tags: { id: string; name: string }[];
  onCorrect(tagId: string): void;
  onCancel(): void;
}) {
  const [selected, setSelected] = useState(0);
  const list = useRef<HTMLUListElement>(null);
  // React's autoFocus covers form controls only; the list takes the keys as soon as it opens.
  useEffect(() => list.current?.focus(), []);
  const listId = `correct-${props.id}`;
  const optionId = (index: number) => `${listId}-${index}`;

  function onKeyDown(event: KeyboardEvent) {
    const digit = Number(event.key);
    let handled = true;
    if (event.key === 'Escape') props.onCancel();
    else if (event.key === 'ArrowDown' || event.key === 'j')
      setSelected((i) => Math.min(i + 1, props.tags.length - 1));
    else if (event.key === 'ArrowUp' || event.key === 'k') setSelected((i) => Math.max(i - 1, 0));
    else if (event.key === 'Enter' && props.tags[selected])
      props.onCorrect(props.tags[selected].id);
    else if (digit >= 1 && digit <= props.tags.length) props.onCorrect(props.tags[digit - 1]!.id);
    else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  }

  if (props.tags.length === 0) {
    return (
      <div className="prompt" role="group" aria-label="Correct">
        <p>No other tag in {props.category} to correct to.</p>
        <button type="button" autoFocus onClick={props.onCancel}>
          Back
        </button>
      </div>
    );
  }
  return (
    <div className="prompt">
      <span id={`${listId}-label`} className="label">
        Correct to another tag of {props.category}
      </span>
      <ul
        role="listbox"
        ref={list}
        tabIndex={0}
        aria-labelledby={`${listId}-label`}
        aria-describedby={`${listId}-hint`}
        aria-activedescendant={optionId(selected)}
        className="picker"
        onKeyDown={onKeyDown}
      >
        {props.tags.map((tag, index) => (
          <li
            key={tag.id}
            id={optionId(index)}
            role="option"
            aria-selected={index === selected}
            onClick={() => props.onCorrect(tag.id)}
          >
            {index < 9 && <kbd>{index + 1}</kbd>} {tag.name}
          </li>
        ))}
      </ul>
      <span id={`${listId}-hint`} className="hint">
        A digit or arrows and Enter pick; Escape cancels
      </span>
      <div className="actions">
        <button type="button" onClick={() => props.onCorrect(props.tags[selected]!.id)}>
          Correct to {props.tags[selected]!.name}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
