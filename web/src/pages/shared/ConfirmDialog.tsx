import { useEffect, useRef, type ReactNode } from 'react';
import { ErrorNote } from './Page';

/** A modal confirmation: the browser's dialog keeps focus inside it, and Escape cancels. */
export function ConfirmDialog(props: {
  title: string;
  confirm: string;
  busy: boolean;
  error: unknown;
  onConfirm: () => void;
  onCancel: () => void;
  children: ReactNode;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    element?.showModal();
    return () => element?.close();
  }, []);
  return (
    <dialog
      ref={dialog}
      className="confirm"
      aria-labelledby="confirm-title"
      onCancel={(event) => {
        event.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id="confirm-title">{props.title}</h2>
      {props.children}
      {props.error != null && <ErrorNote error={props.error} />}
      <div className="actions">
        <button type="button" onClick={props.onCancel} autoFocus>
          Cancel
        </button>
        <button type="button" className="primary" disabled={props.busy} onClick={props.onConfirm}>
          {props.busy ? 'Working…' : props.confirm}
        </button>
      </div>
    </dialog>
  );
}
