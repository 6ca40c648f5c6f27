// The class cards: a name, a count, thumbnails (click one to remove it), a hold-to-record button for the
// webcam, an upload button and a drop zone. Cards are kept and updated in place, so recording at 10
// frames a second redraws only what changed.
import { el } from './dom.js';
import { type ClassSet, MAX_EXAMPLES } from './examples.js';
import { drawBytes } from './images.js';

/** Thumbnails shown per class (the newest); the count says how many there are. */
const SHOWN = 48;

export interface CardActions {
  record(classId: number, on: boolean): void;
  files(classId: number, files: File[]): void;
}

interface Card {
  root: HTMLElement;
  name: HTMLInputElement;
  count: HTMLElement;
  record: HTMLButtonElement;
  thumbs: HTMLElement;
  canvases: Map<number, HTMLCanvasElement>;
}

export class ClassCards {
  private cards = new Map<number, Card>();
  private cameraOn = false;
  private locked = false;

  constructor(
    readonly box: HTMLElement,
    readonly set: ClassSet,
    readonly actions: CardActions,
  ) {}

  /** Recording needs the camera; nothing changes while training. */
  setState(cameraOn: boolean, locked: boolean): void {
    this.cameraOn = cameraOn;
    this.locked = locked;
    this.render();
  }

  render(): void {
    const ids = new Set(this.set.classes.map((c) => c.id));
    for (const [id, card] of this.cards)
      if (!ids.has(id)) {
        card.root.remove();
        this.cards.delete(id);
      }
    this.set.classes.forEach((c, i) => {
      const card = this.cards.get(c.id) ?? this.create(c.id);
      if (this.box.children[i] !== card.root) this.box.insertBefore(card.root, this.box.children[i] ?? null);
      if (document.activeElement !== card.name) card.name.value = c.name;
      card.count.textContent = `${c.examples.length} picture${c.examples.length === 1 ? '' : 's'}${c.examples.length >= MAX_EXAMPLES ? ' (full)' : ''}`;
      card.root.classList.toggle('empty', c.examples.length === 0);
      card.record.disabled = !this.cameraOn || this.locked;
      card.record.title = this.cameraOn ? 'Hold to record webcam frames into this class' : 'Start the camera first';
      for (const inp of card.root.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, .remove-class'))
        inp.disabled = this.locked;
      this.thumbs(card, c.id);
    });
  }

  private thumbs(card: Card, id: number): void {
    const shown = this.set.get(id).examples.slice(-SHOWN);
    const keep = new Set(shown.map((e) => e.id));
    for (const [eid, cv] of card.canvases)
      if (!keep.has(eid)) {
        cv.remove();
        card.canvases.delete(eid);
      }
    shown.forEach((e, i) => {
      let cv = card.canvases.get(e.id);
      if (!cv) {
        cv = el('canvas', 'thumb');
        cv.title = 'Click to remove this picture';
        drawBytes(cv, e.pixels);
        cv.addEventListener('click', () => !this.locked && this.set.removeExample(id, e.id));
        card.canvases.set(e.id, cv);
      }
      if (card.thumbs.children[i] !== cv) card.thumbs.insertBefore(cv, card.thumbs.children[i] ?? null);
    });
  }

  private create(id: number): Card {
    const root = el('div', 'class-card');
    root.dataset.classId = String(id);
    const head = el('div', 'class-head');
    const name = el('input', 'class-name');
    name.type = 'text';
    name.maxLength = 24;
    name.setAttribute('aria-label', 'Class name');
    name.addEventListener('input', () => this.set.rename(id, name.value));
    const count = el('span', 'class-count');
    const remove = el('button', 'remove-class', '×');
    remove.title = 'Remove this class and its pictures';
    remove.setAttribute('aria-label', 'Remove this class');
    remove.addEventListener('click', () => this.set.remove(id));
    head.append(name, count, remove);

    const actions = el('div', 'class-actions');
    const record = el('button', 'record', 'Hold to record');
    const on = (e: Event) => {
      e.preventDefault();
      if (!record.disabled) this.actions.record(id, true);
    };
    const off = () => this.actions.record(id, false);
    record.addEventListener('pointerdown', on);
    record.addEventListener('contextmenu', (e) => e.preventDefault());
    for (const ev of ['pointerup', 'pointerleave', 'pointercancel', 'blur']) record.addEventListener(ev, off);
    record.addEventListener('keydown', (e) => (e.key === ' ' || e.key === 'Enter') && !e.repeat && on(e));
    record.addEventListener('keyup', (e) => (e.key === ' ' || e.key === 'Enter') && off());
    const upload = el('label', 'button', 'Upload…');
    const file = el('input');
    file.type = 'file';
    file.multiple = true;
    file.accept = 'image/*';
    file.className = 'upload';
    file.addEventListener('change', () => {
      const files = Array.from(file.files ?? []);
      file.value = '';
      if (files.length) this.actions.files(id, files);
    });
    upload.append(file);
    actions.append(record, upload, el('small', 'hint', 'or drop images here'));

    const thumbs = el('div', 'thumbs');
    root.append(head, actions, thumbs);
    root.addEventListener('dragover', (e) => {
      e.preventDefault();
      root.classList.add('drop');
    });
    root.addEventListener('dragleave', () => root.classList.remove('drop'));
    root.addEventListener('drop', (e) => {
      e.preventDefault();
      root.classList.remove('drop');
      const files = Array.from(e.dataTransfer?.files ?? []);
      if (files.length && !this.locked) this.actions.files(id, files);
    });
    const card = { root, name, count, record, thumbs, canvases: new Map() };
    this.cards.set(id, card);
    return card;
  }
}
