// One node on the canvas. Every flow node kind is registered under its own Vue Flow node type, all drawn
// by this component: the kind decides the colour and icon, the node's output ports (computed in Python by
// flows.graph.output_ports) become one source handle each, and every kind but `start` has one target
// handle. All user text goes through text interpolation ({{ }}), which Vue escapes: never v-html.
import { computed, h, inject } from "vue";
import { Handle, Position } from "@vue-flow/core";

// Colours per group of kinds, so a glance at the canvas tells messages from logic from integrations.
const KIND_STYLE = {
  start: { tone: "start", icon: "play_arrow", title: "Start" },
  send_message: { tone: "message", icon: "chat", title: "Send message" },
  wait_for_reply: { tone: "message", icon: "hourglass_empty", title: "Wait for reply" },
  branch: { tone: "logic", icon: "call_split", title: "Branch" },
  delay: { tone: "logic", icon: "schedule", title: "Delay" },
  set_attribute: { tone: "contact", icon: "edit_note", title: "Set attribute" },
  add_tag: { tone: "contact", icon: "sell", title: "Add tag" },
  add_to_group: { tone: "contact", icon: "group_add", title: "Add to group" },
  remove_from_group: { tone: "contact", icon: "group_remove", title: "Remove from group" },
  opt_out: { tone: "consent", icon: "block", title: "Opt out" },
  opt_in: { tone: "consent", icon: "check_circle", title: "Opt in" },
  http_request: { tone: "integration", icon: "http", title: "HTTP request" },
  end: { tone: "end", icon: "stop", title: "End" },
};

export const NODE_KINDS = Object.keys(KIND_STYLE);

export const FlowNode = {
  name: "FlowgateNode",
  props: ["id", "type", "data", "selected"],
  setup(props) {
    const view = inject("flowgateView");
    const style = computed(() => KIND_STYLE[props.type] || { tone: "end", icon: "help", title: props.type });
    const mark = computed(() => view.marks[props.id] || "");
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
    return () => {
      const ports = props.data.ports || [];
      const children = [
        h("div", { class: "fg-node-head" }, [
          h("i", { class: "q-icon notranslate material-icons fg-node-icon", "aria-hidden": "true" }, style.value.icon),
          h("span", { class: "fg-node-kind" }, style.value.title),
        ]),
      ];
      if (props.data.label) children.push(h("div", { class: "fg-node-label" }, props.data.label));
      if (props.data.summary) children.push(h("div", { class: "fg-node-summary" }, props.data.summary));
      if (ports.length > 1 || (ports.length === 1 && ports[0].id !== "next")) {
        children.push(
          h(
            "div",
            { class: "fg-ports" },
            ports.map((port) =>
              h("div", { class: "fg-port", key: port.id }, [
                h("span", { class: "fg-port-label" }, port.label),
                h(Handle, { type: "source", id: port.id, position: Position.Right, class: "fg-handle" }),
              ]),
            ),
          ),
        );
      } else if (ports.length === 1) {
        children.push(h(Handle, { type: "source", id: "next", position: Position.Right, class: "fg-handle" }));
      }
      if (props.data.target) {
        children.push(h(Handle, { type: "target", id: "in", position: Position.Left, class: "fg-handle fg-in" }));
      }
      if (mark.value) children.push(h("div", { class: "fg-mark", role: "alert" }, mark.value));
      return h("div", { class: classes.value, "data-node-id": props.id, "data-kind": props.type }, children);
    };
  },
};
