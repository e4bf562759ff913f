// An edge between two steps: a rounded step line with an arrow; when selected (click it), a small
// "disconnect" button sits on its middle, so an edge can be removed by mouse alone (Delete works too).
import { h, inject } from "vue";
import { BaseEdge, EdgeLabelRenderer, getSmoothStepPath, useVueFlow } from "@vue-flow/core";

export const FlowEdge = {
  name: "FlowgateEdge",
  props: [
    "id",
    "sourceX",
    "sourceY",
    "targetX",
    "targetY",
    "sourcePosition",
    "targetPosition",
    "markerEnd",
    "selected",
    "style",
  ],
  setup(props) {
    const view = inject("flowgateView");
    const { removeEdges } = useVueFlow();
    return () => {
      const [path, labelX, labelY] = getSmoothStepPath({
        sourceX: props.sourceX,
        sourceY: props.sourceY,
        sourcePosition: props.sourcePosition,
        targetX: props.targetX,
        targetY: props.targetY,
        targetPosition: props.targetPosition,
        borderRadius: 10,
      });
      const parts = [h(BaseEdge, { id: props.id, path, markerEnd: props.markerEnd, style: props.style, interactionWidth: 24 })];
      // How many runs took this path (the campaign monitor), on the middle of the line.
      const taken = (view.counts.edges || {})[props.id];
      if (taken !== undefined) {
        parts.push(
          h(EdgeLabelRenderer, () =>
            h(
              "div",
              {
                class: ["fg-edge-count", { "fg-edge-count-zero": !taken }],
                "data-edge": props.id,
                title: `${taken} took this path`,
                style: { transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` },
              },
              String(taken),
            ),
          ),
        );
      }
      if (props.selected && !view.readonly) {
        parts.push(
          h(EdgeLabelRenderer, () =>
            h(
              "button",
              {
                type: "button",
                class: "fg-edge-remove nodrag nopan",
                title: "Disconnect",
                "aria-label": "Disconnect these steps",
                style: { transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` },
                onClick: () => removeEdges([props.id]),
              },
              [h("i", { class: "q-icon notranslate material-icons", "aria-hidden": "true" }, "close")],
            ),
          ),
        );
      }
      return parts;
    };
  },
};
