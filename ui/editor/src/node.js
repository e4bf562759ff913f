// One node on the canvas. Every flow node kind is registered under its own Vue Flow node type, all drawn
// by this component: the kind's look (tone, icon, title) comes from the catalogue Python sends as the
// editor's `kinds` prop, the node's output ports (computed in Python by flows.graph.output_ports) become
// one source handle each, and every kind but `start` has one target handle. All user text goes through
// text interpolation, which Vue escapes: never innerHTML.
import { computed, h, inject } from "vue";
import { Handle, Position } from "@vue-flow/core";

const UNKNOWN = { tone: "end", icon: "help", title: "Unknown step" };
const icon = (name, extra = "") =>
  h("i", { class: `q-icon notranslate material-icons ${extra}`, "aria-hidden": "true" }, name);

export const FlowNode = {
  name: "FlowgateNode",
  props: ["id", "type", "data", "selected"],
  setup(props) {
    const view = inject("flowgateView");
    const kinds = inject("flowgateKinds");
    const style = computed(() => kinds.value[props.type] || { ...UNKNOWN, title: props.type });
    const mark = computed(() => view.marks[props.id] || "");
    // Live counts of a campaign's runs on this step (the monitor): [{label, value, tone}].
    const counts = computed(() => (view.counts.nodes || {})[props.id] || []);
    const classes = computed(() => [
      "fg-node",
      `fg-tone-${style.value.tone}`,
      {
        "fg-selected": props.selected,
        "fg-marked": !!mark.value,
        "fg-active": view.active === props.id,
        "fg-visited": view.path.includes(props.id),
      },
    ]);
    const portRow = (port) =>
      h("div", { class: ["fg-port", { "fg-port-ended": port.ended }], key: port.id, "data-port": port.id }, [
        port.ended ? h("span", { class: "fg-port-end", title: "The run ends here" }, [icon("stop_circle", "fg-port-end-icon")]) : null,
        h("span", { class: "fg-port-label" }, port.label),
        h(Handle, { type: "source", id: port.id, position: Position.Right, class: "fg-handle" }),
      ]);
    return () => {
      const ports = props.data.ports || [];
      const children = [
        h("div", { class: "fg-node-head" }, [
          icon(style.value.icon, "fg-node-icon"),
          h("span", { class: "fg-node-kind" }, style.value.title),
        ]),
      ];
      // A label that only repeats the kind ("Start") would say the same thing twice.
      const label = props.data.label || "";
      if (label && label.trim().toLowerCase() !== style.value.title.toLowerCase()) {
        children.push(h("div", { class: "fg-node-label" }, label));
      }
      if (props.data.summary) children.push(h("div", { class: "fg-node-summary" }, props.data.summary));
      const named = ports.length > 1 || (ports.length === 1 && (ports[0].id !== "next" || ports[0].ended));
      if (named) {
        children.push(h("div", { class: "fg-ports" }, ports.map(portRow)));
      } else if (ports.length === 1) {
        children.push(h(Handle, { type: "source", id: "next", position: Position.Right, class: "fg-handle" }));
      }
      if (props.data.target) {
        children.push(h(Handle, { type: "target", id: "in", position: Position.Left, class: "fg-handle fg-in" }));
      }
      if (counts.value.length) {
        children.push(
          h(
            "div",
            { class: "fg-counts", "data-counts": props.id },
            counts.value.map((count) =>
              h("span", { class: ["fg-count", `fg-count-${count.tone || "plain"}`], key: count.label, title: count.title || "" }, [
                h("b", {}, count.value),
                ` ${count.label}`,
              ]),
            ),
          ),
        );
      }
      if (mark.value) {
        children.push(h("div", { class: "fg-mark", role: "alert", title: mark.value }, [h("span", { class: "fg-mark-text" }, mark.value)]));
      }
      return h("div", { class: classes.value, "data-node-id": props.id, "data-kind": props.type }, children);
    };
  },
};
