// menu.js -- a row's three-dots Actions menu (the WAI-ARIA menu button pattern).
import { h } from './dom.js';

let open = null; // the one menu open at a time: { button, list }

function close(focusButton) {
  if (!open) return;
  open.list.hidden = true;
  open.button.setAttribute('aria-expanded', 'false');
  if (focusButton) open.button.focus();
  open = null;
}

document.addEventListener('click', (e) => {
  if (open && !open.button.parentElement.contains(e.target)) close(false);
});

// items: [{label, run}]. Returns the wrapper holding the button and its menu.
export function actionsMenu(label, items) {
  const button = h('button', {
    type: 'button',
    class: 'dots',
    'aria-haspopup': 'menu',
    'aria-expanded': 'false',
    'aria-label': label,
    title: label,
  }, '⋮');
  const entries = items.map((it) =>
    h('li', { role: 'none' },
      h('button', { type: 'button', role: 'menuitem', tabindex: '-1', onclick: () => { close(false); it.run(); } },
        it.label)));
  const list = h('ul', { role: 'menu', class: 'menu', hidden: true }, entries);
  const menuItems = () => [...list.querySelectorAll('[role=menuitem]')];
  const focusItem = (i) => {
    const all = menuItems();
    all[(i + all.length) % all.length].focus();
  };
  const openMenu = (first) => {
    close(false);
    list.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    open = { button, list };
    focusItem(first);
  };
  button.addEventListener('click', () => (open?.list === list ? close(true) : openMenu(0)));
  button.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      openMenu(0);
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      openMenu(-1);
    }
  });
  list.addEventListener('keydown', (e) => {
    const i = menuItems().indexOf(document.activeElement);
    if (e.key === 'ArrowDown') focusItem(i + 1);
    else if (e.key === 'ArrowUp') focusItem(i - 1);
    else if (e.key === 'Home') focusItem(0);
    else if (e.key === 'End') focusItem(-1);
    else if (e.key === 'Escape' || e.key === 'Tab') close(e.key === 'Escape');
    else return;
    if (e.key !== 'Tab') e.preventDefault();
  });
  return h('div', { class: 'actions' }, button, list);
}
