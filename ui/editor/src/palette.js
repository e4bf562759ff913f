// The palette: every node kind, grouped, to drag onto the canvas or click to add at the view's centre.
// The entries come from Python (ui/components/node_kinds.py) as the editor's `kinds` prop, so the palette
// can never offer a kind the backend does not know. Dragging uses the browser's own drag and drop; the
// canvas reads the kind from the drop's dataTransfer (see editor.js).
import { h, ref } from "vue";

export const DRAG_TYPE = "application/x-flowgate-kind";
const COLLAPSED_KEY = "flowgate.palette.collapsed";

function readCollapsed() {
  try {
    return window.localStorage.getItem(COLLAPSED_KEY) === "1";
  } catch {
    return false; // storage disabled: start open
  }
}

export const Palette = {
  name: "FlowgatePalette",
  props: { kinds: { type: Array, required: true } },
  emits: ["pick"],
  setup(props, { emit }) {
    const collapsed = ref(readCollapsed());
    const toggle = () => {
      collapsed.value = !collapsed.value;
      try {
        window.localStorage.setItem(COLLAPSED_KEY, collapsed.value ? "1" : "0");
      } catch {
        /* the choice just is not remembered */
      }
    };
    const groups = () => {
      const byGroup = new Map();
      for (const kind of props.kinds) {
        if (!byGroup.has(kind.group)) byGroup.set(kind.group, []);
        byGroup.get(kind.group).push(kind);
      }
      return [...byGroup.entries()];
    };
    const item = (kind) =>
      h(
        "button",
        {
          type: "button",
          class: ["fg-palette-item", `fg-tone-${kind.tone}`],
          draggable: true,
          title: `${kind.title}: ${kind.description}`,
          "data-kind": kind.kind,
          onDragstart: (event) => {
            event.dataTransfer.setData(DRAG_TYPE, kind.kind);
            event.dataTransfer.effectAllowed = "copy";
          },
          onClick: () => emit("pick", kind.kind),
        },
        [
          h("i", { class: "q-icon notranslate material-icons fg-palette-icon", "aria-hidden": "true" }, kind.icon),
          h("span", kind.title),
        ],
      );
    return () =>
      h("aside", { class: ["fg-palette", "nodrag", "nopan", "nowheel", { "fg-collapsed": collapsed.value }] }, [
        h(
          "button",
          {
            type: "button",
            class: "fg-palette-toggle",
            "aria-expanded": String(!collapsed.value),
            title: collapsed.value ? "Show the steps you can add" : "Hide the palette",
            onClick: toggle,
          },
          [
            h("i", { class: "q-icon notranslate material-icons", "aria-hidden": "true" }, collapsed.value ? "add" : "chevron_left"),
            collapsed.value ? null : h("span", "Add a step"),
          ],
        ),
        h("div", { class: "fg-palette-body" }, [
              ...groups().map(([group, kinds]) =>
                h("section", { class: "fg-palette-group", key: group }, [
                  h("div", { class: "fg-palette-heading" }, group),
                  ...kinds.map(item),
                ]),
              ),
          h("p", { class: "fg-palette-hint" }, "Drag onto the canvas, or click to add."),
        ]),
      ]);
  },
};
