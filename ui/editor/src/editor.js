// The Vue component behind ui/components/flow_editor.py: Vue Flow with Flowgate's node types.
//
// Python owns the graph. This component draws the `nodes` and `edges` props and reports what the person
// did (moved, connected, removed, selected); Python keeps its mirror in sync from those events and sends
// the props back only when it changes something itself. A connection is drawn at once (and replaces
// whatever left the same port before: in a flow, a port leads to one node) so the canvas never waits for
// the server.
import { computed, h, markRaw, onBeforeUnmount, onMounted, provide, reactive, ref, watchEffect } from "vue";
import { MarkerType, VueFlow, useVueFlow } from "@vue-flow/core";
import { Background } from "@vue-flow/background";
import { Controls } from "@vue-flow/controls";
import { MiniMap } from "@vue-flow/minimap";
import { FlowNode, NODE_KINDS } from "./node.js";

const NODE_TYPES = Object.fromEntries(NODE_KINDS.map((kind) => [kind, markRaw(FlowNode)]));
const MINIMAP_COLOURS = {
  start: "#10b981",
  send_message: "#6366f1",
  wait_for_reply: "#6366f1",
  branch: "#f59e0b",
  delay: "#f59e0b",
  http_request: "#0ea5e9",
  opt_out: "#ef4444",
  opt_in: "#ef4444",
  end: "#64748b",
};
let instances = 0;

export const FlowEditor = {
  name: "FlowgateEditor",
  props: {
    nodes: { type: Array, default: () => [] },
    edges: { type: Array, default: () => [] },
    readonly: { type: Boolean, default: false },
    marks: { type: Object, default: () => ({}) },
    activeNode: { type: String, default: null },
    path: { type: Array, default: () => [] },
  },
  emits: ["nodesMoved", "edgeConnected", "edgesRemoved", "nodesDeleted", "nodeSelected", "ready"],
  setup(props, { emit }) {
    instances += 1;
    const flowId = `flowgate-editor-${instances}`;
    const flow = useVueFlow(flowId);
    const root = ref(null);
    const view = reactive({ marks: {}, active: null, path: [] });
    watchEffect(() => {
      view.marks = props.marks || {};
      view.active = props.activeNode;
      view.path = props.path || [];
    });
    provide("flowgateView", view);

    // An edge is on the walked path when its two ends were visited one right after the other.
    const drawnEdges = computed(() => {
      const steps = new Set();
      for (let i = 1; i < view.path.length; i += 1) steps.add(`${view.path[i - 1]}>${view.path[i]}`);
      return props.edges.map((edge) =>
        steps.has(`${edge.source}>${edge.target}`)
          ? { ...edge, class: "fg-path", animated: edge.target === view.active }
          : edge,
      );
    });

    flow.onConnect((connection) => {
      if (props.readonly || connection.source === connection.target) return;
      const port = connection.sourceHandle || "next";
      const replaced = flow.edges.value.filter(
        (edge) => edge.source === connection.source && (edge.sourceHandle || "next") === port,
      );
      if (replaced.length) flow.removeEdges(replaced.map((edge) => edge.id));
      const id = `e-${connection.source}-${port}-${connection.target}`;
      flow.addEdges([{ id, source: connection.source, sourceHandle: port, target: connection.target, targetHandle: "in" }]);
      emit("edgeConnected", { id, source: connection.source, source_port: port, target: connection.target });
    });
    flow.onNodeDragStop(({ nodes }) => {
      emit(
        "nodesMoved",
        nodes.map((node) => ({ id: node.id, x: Math.round(node.position.x), y: Math.round(node.position.y) })),
      );
    });
    flow.onNodesChange((changes) => {
      const removed = changes.filter((change) => change.type === "remove").map((change) => change.id);
      if (removed.length) emit("nodesDeleted", { ids: removed });
    });
    flow.onEdgesChange((changes) => {
      const removed = changes.filter((change) => change.type === "remove").map((change) => change.id);
      if (removed.length) emit("edgesRemoved", { ids: removed });
    });
    flow.onNodeClick(({ node }) => emit("nodeSelected", { id: node.id }));
    flow.onPaneClick(() => emit("nodeSelected", { id: null }));
    flow.onPaneReady(() => {
      flow.fitView({ padding: 0.2, maxZoom: 1.2 });
      emit("ready", {});
    });

    // The canvas often gets its size after the first render (drawers, tabs): fit once it has one.
    let observer = null;
    let sized = false;
    onMounted(() => {
      observer = new ResizeObserver(([entry]) => {
        const hasSize = entry.contentRect.width > 0 && entry.contentRect.height > 0;
        if (hasSize && !sized) requestAnimationFrame(() => flow.fitView({ padding: 0.2, maxZoom: 1.2 }));
        sized = hasSize;
      });
      if (root.value) observer.observe(root.value);
    });
    onBeforeUnmount(() => observer?.disconnect());

    // Called from Python with run_method.
    const fit_view = () => flow.fitView({ padding: 0.2, maxZoom: 1.2, duration: 200 });
    const add_node = (node) => {
      flow.addNodes([node]);
      return node.id;
    };
    const node_count = () => flow.nodes.value.length;

    const draw = () =>
      h("div", { ref: root, class: ["fg-editor", { "fg-readonly": props.readonly }] }, [
        h(
          VueFlow,
          {
            id: flowId,
            nodes: props.nodes,
            edges: drawnEdges.value,
            nodeTypes: NODE_TYPES,
            nodesDraggable: !props.readonly,
            nodesConnectable: !props.readonly,
            edgesUpdatable: false,
            elementsSelectable: true,
            deleteKeyCode: props.readonly ? null : ["Backspace", "Delete"],
            multiSelectionKeyCode: "Shift",
            minZoom: 0.2,
            maxZoom: 2,
            defaultEdgeOptions: { type: "smoothstep", markerEnd: MarkerType.ArrowClosed },
            isValidConnection: (connection) => connection.source !== connection.target,
          },
          {
            default: () => [
              h(Background, { gap: 20, size: 1.2, patternColor: "#cbd5e1" }),
              h(Controls, { showInteractive: false, position: "bottom-left" }),
              h(MiniMap, {
                pannable: true,
                zoomable: true,
                position: "bottom-right",
                nodeColor: (node) => MINIMAP_COLOURS[node.type] || "#94a3b8",
                maskColor: "rgba(241, 245, 249, 0.7)",
              }),
            ],
          },
        ),
      ]);
    return { fit_view, add_node, node_count, draw };
  },
  render() {
    return this.draw();
  },
};
