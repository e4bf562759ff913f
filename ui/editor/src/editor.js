// The Vue component behind ui/components/flow_editor.py: Vue Flow with Flowgate's node types.
//
// Python owns the graph (ui/components/flow_document.py). This component draws the `nodes` and `edges`
// props and reports what the person did: moved, connected, removed, selected, dropped a palette entry,
// pressed a shortcut. Python keeps its copy in sync from those events and sends props back only when it
// changed something itself (undo, paste, a setting). A connection or a move is shown at once, so the
// canvas never waits for the server; a connection replaces whatever left the same port before (in a
// flow, a port leads to one node).
import {
  computed,
  h,
  markRaw,
  nextTick,
  onBeforeUnmount,
  onMounted,
  provide,
  reactive,
  ref,
  watch,
  watchEffect,
} from "vue";
import { MarkerType, VueFlow, useVueFlow } from "@vue-flow/core";
import { Background } from "@vue-flow/background";
import { Controls } from "@vue-flow/controls";
import { MiniMap } from "@vue-flow/minimap";
import { FlowEdge } from "./edge.js";
import { FlowNode } from "./node.js";
import { tidyPositions } from "./layout.js";
import { DRAG_TYPE, Palette } from "./palette.js";

const TONE_COLOURS = {
  start: "#10b981",
  message: "#6366f1",
  logic: "#f59e0b",
  contact: "#8b5cf6",
  consent: "#ef4444",
  consent_given: "#16a34a",
  integration: "#0ea5e9",
  end: "#64748b",
};
const EDGE_TYPES = { flowgate: markRaw(FlowEdge) };
const FIT = { padding: 0.15, maxZoom: 1 };
const READABLE_ZOOM = 0.6; // about 8 px text: the least a fitted view may shrink a flow to
// Where a dropped node lands relative to the pointer: its header under the cursor.
const DROP_OFFSET = { x: 100, y: 24 };
let instances = 0;

// Keyboard shortcuts of the canvas; they never fire while someone types in a field.
function shortcutOf(event) {
  if (!(event.ctrlKey || event.metaKey) || event.altKey) return null;
  const key = event.key.toLowerCase();
  if (key === "z") return event.shiftKey ? "redo" : "undo";
  if (key === "y") return "redo";
  return { c: "copy", v: "paste", d: "duplicate", a: "select_all" }[key] || null;
}

function typingIn(element) {
  return !!element?.closest?.('input, textarea, select, [contenteditable="true"], [contenteditable=""]');
}

export const FlowEditor = {
  name: "FlowgateEditor",
  props: {
    nodes: { type: Array, default: () => [] },
    edges: { type: Array, default: () => [] },
    kinds: { type: Array, default: () => [] },
    readonly: { type: Boolean, default: false },
    marks: { type: Object, default: () => ({}) },
    counts: { type: Object, default: () => ({}) },
    activeNode: { type: String, default: null },
    path: { type: Array, default: () => [] },
  },
  emits: [
    "nodesMoved",
    "edgeConnected",
    "edgesRemoved",
    "nodesDeleted",
    "selectionChanged",
    "nodeAdd",
    "shortcut",
    "ready",
  ],
  setup(props, { emit }) {
    instances += 1;
    const flowId = `flowgate-editor-${instances}`;
    const flow = useVueFlow(flowId);
    const outer = ref(null); // the whole editor: palette and canvas
    const root = ref(null); // the canvas
    const view = reactive({ marks: {}, counts: {}, active: null, path: [], readonly: false });
    watchEffect(() => {
      view.marks = props.marks || {};
      view.counts = props.counts || {};
      view.active = props.activeNode;
      view.path = props.path || [];
      view.readonly = props.readonly;
    });
    provide("flowgateView", view);
    const kindMap = computed(() => Object.fromEntries(props.kinds.map((kind) => [kind.kind, kind])));
    provide("flowgateKinds", kindMap);
    const nodeTypes = computed(() => Object.fromEntries(props.kinds.map((kind) => [kind.kind, markRaw(FlowNode)])));

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
    const reportMoves = ({ nodes }) =>
      emit(
        "nodesMoved",
        nodes.map((node) => ({ id: node.id, x: Math.round(node.position.x), y: Math.round(node.position.y) })),
      );
    flow.onNodeDragStop(reportMoves);
    flow.onSelectionDragStop(reportMoves);
    flow.onNodesChange((changes) => {
      const removed = changes.filter((change) => change.type === "remove").map((change) => change.id);
      if (removed.length) emit("nodesDeleted", { ids: removed });
    });
    flow.onEdgesChange((changes) => {
      const removed = changes.filter((change) => change.type === "remove").map((change) => change.id);
      if (removed.length) emit("edgesRemoved", { ids: removed });
    });
    // One event per change of the selected set, whatever changed it (click, box, Ctrl+A, Python).
    watch(
      () => flow.getSelectedNodes.value.map((node) => node.id).join("\n"),
      (joined) => emit("selectionChanged", { ids: joined ? joined.split("\n") : [] }),
    );
    // Fit the flow in view; a flow of one step (a new one) starts at the left, with room to grow.
    const fit = (options = {}) => {
      const nodes = flow.getNodes.value;
      if (nodes.length === 1 && root.value) {
        const box = root.value.getBoundingClientRect();
        const { x, y } = nodes[0].position;
        return flow.setViewport({ x: 48 - x, y: box.height * 0.35 - y, zoom: 1 }, options);
      }
      return fitReadable(nodes, options);
    };
    // A large flow fitted whole would draw its text a few pixels high: below a readable zoom, show its
    // start (the left) at that zoom instead and let the view be panned to the rest.
    const fitReadable = (nodes, options) => {
      const box = root.value?.getBoundingClientRect();
      if (!box || !box.width || !nodes.length) return flow.fitView({ ...FIT, ...options });
      let [left, top, right, bottom] = [Infinity, Infinity, -Infinity, -Infinity];
      for (const node of nodes) {
        const { width = 200, height = 80 } = node.dimensions || {};
        left = Math.min(left, node.position.x);
        top = Math.min(top, node.position.y);
        right = Math.max(right, node.position.x + width);
        bottom = Math.max(bottom, node.position.y + height);
      }
      const padded = 1 + 2 * FIT.padding;
      const fitted = Math.min(box.width / ((right - left) * padded), box.height / ((bottom - top) * padded));
      if (fitted >= READABLE_ZOOM) return flow.fitView({ ...FIT, ...options });
      const zoom = READABLE_ZOOM;
      const tall = (bottom - top) * zoom > box.height - 48;
      const y = tall ? 24 - top * zoom : box.height / 2 - ((top + bottom) / 2) * zoom;
      return flow.setViewport({ x: 48 - left * zoom, y, zoom }, options);
    };
    flow.onPaneReady(() => {
      fit();
      emit("ready", {});
    });

    // Where new nodes go: under the pointer when it is over the canvas, else the middle of the view.
    const pointer = { x: 0, y: 0, over: false };
    const flowPoint = (clientX, clientY) => {
      const point = flow.screenToFlowCoordinate({ x: clientX, y: clientY });
      return { x: Math.round(point.x), y: Math.round(point.y) };
    };
    const viewCentre = () => {
      const box = root.value.getBoundingClientRect();
      return flowPoint(box.left + box.width / 2, box.top + box.height / 2);
    };
    const pastePoint = () => (pointer.over ? flowPoint(pointer.x, pointer.y) : viewCentre());

    const addFromPalette = (kind, point) =>
      emit("nodeAdd", { kind, x: point.x - DROP_OFFSET.x, y: point.y - DROP_OFFSET.y });
    // A click names no spot: Python places the step near the view's centre, clear of the drawn steps
    // (ui/components/placement.py), so it sends the centre and every step's measured box.
    const addAtCentre = (kind) => {
      const boxes = flow.getNodes.value.map((node) => {
        const { width = 220, height = 90 } = node.dimensions || {};
        return { x: node.position.x, y: node.position.y, width, height };
      });
      emit("nodeAdd", { kind, ...viewCentre(), boxes });
    };
    const onDragOver = (event) => {
      if (props.readonly || !event.dataTransfer.types.includes(DRAG_TYPE)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    };
    const onDrop = (event) => {
      const kind = event.dataTransfer.getData(DRAG_TYPE);
      if (props.readonly || !kind) return;
      event.preventDefault();
      addFromPalette(kind, flowPoint(event.clientX, event.clientY));
    };

    const onKeydown = (event) => {
      const action = shortcutOf(event);
      // Page-wide, as in other editors: not while typing in a field, nor inside a dialog or menu.
      if (!action || !outer.value || typingIn(event.target) || typingIn(document.activeElement)) return;
      if (document.activeElement?.closest?.(".q-dialog, .q-menu")) return;
      if (props.readonly && action !== "copy" && action !== "select_all") return;
      if (action === "copy" && window.getSelection()?.toString()) return; // copying page text
      event.preventDefault();
      if (action === "select_all") {
        flow.addSelectedNodes(flow.getNodes.value);
        return;
      }
      emit("shortcut", { action, ...pastePoint() });
    };

    // The canvas often gets its size after the first render (drawers, tabs): fit once it has one.
    let observer = null;
    let sized = false;
    onMounted(() => {
      observer = new ResizeObserver(([entry]) => {
        const hasSize = entry.contentRect.width > 0 && entry.contentRect.height > 0;
        if (hasSize && !sized) requestAnimationFrame(() => fit());
        sized = hasSize;
      });
      if (root.value) observer.observe(root.value);
      window.addEventListener("keydown", onKeydown);
    });
    onBeforeUnmount(() => {
      observer?.disconnect();
      window.removeEventListener("keydown", onKeydown);
    });

    // Called from Python with run_method.
    const fit_view = () => fit({ duration: 200 });
    const update_node = (id, data) => {
      flow.updateNodeData(id, data, { replace: true });
      nextTick(() => flow.updateNodeInternals([id])); // ports may have changed: re-measure the handles
    };
    const select = (ids) => {
      const wanted = new Set(ids);
      flow.removeSelectedNodes(flow.getSelectedNodes.value.filter((node) => !wanted.has(node.id)));
      flow.addSelectedNodes(ids.map((id) => flow.findNode(id)).filter(Boolean));
    };
    const focus_node = (id) => {
      const node = flow.findNode(id);
      if (!node) return;
      const { width = 200, height = 80 } = node.dimensions || {};
      flow.setCenter(node.position.x + width / 2, node.position.y + height / 2, {
        zoom: Math.max(flow.viewport.value.zoom, 1),
        duration: 300,
      });
      select([id]);
    };
    const tidy = () => {
      const moves = tidyPositions(flow.getNodes.value, flow.getEdges.value);
      for (const move of moves) flow.updateNode(move.id, { position: { x: move.x, y: move.y } });
      emit("nodesMoved", moves);
      nextTick(() => fit({ duration: 250 }));
    };
    const set_view = (patch) => {
      if ("marks" in patch) view.marks = patch.marks || {};
      if ("counts" in patch) view.counts = patch.counts || {};
      if ("activeNode" in patch) view.active = patch.activeNode;
      if ("path" in patch) view.path = patch.path || [];
    };

    // The palette is a column beside the canvas, not over it: a fitted view is never hidden under it.
    const draw = () =>
      h("div", { ref: outer, class: ["fg-editor", { "fg-readonly": props.readonly }] }, [
        props.readonly ? null : h(Palette, { kinds: props.kinds, onPick: addAtCentre }),
        h(
          "div",
          {
            ref: root,
            class: "fg-canvas",
            onDragover: onDragOver,
            onDrop,
            onPointermove: (event) => Object.assign(pointer, { x: event.clientX, y: event.clientY, over: true }),
            onPointerleave: () => {
              pointer.over = false;
            },
          },
          [
            h(
              VueFlow,
              {
                id: flowId,
                nodes: props.nodes,
                edges: drawnEdges.value,
                nodeTypes: nodeTypes.value,
                edgeTypes: EDGE_TYPES,
                nodesDraggable: !props.readonly,
                nodesConnectable: !props.readonly,
                edgesUpdatable: false,
                elementsSelectable: true,
                deleteKeyCode: props.readonly ? null : ["Backspace", "Delete"],
                selectionKeyCode: "Shift",
                multiSelectionKeyCode: ["Meta", "Control"],
                minZoom: 0.2,
                maxZoom: 2,
                defaultEdgeOptions: { type: "flowgate", markerEnd: MarkerType.ArrowClosed },
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
                    nodeColor: (node) => TONE_COLOURS[kindMap.value[node.type]?.tone] || "#94a3b8",
                    maskColor: "rgba(241, 245, 249, 0.7)",
                  }),
                ],
              },
            ),
            !props.readonly && props.nodes.length <= 1
              ? h("div", { class: "fg-empty-hint" }, "Drag a step from the palette onto the canvas, then connect the dots.")
              : null,
          ],
        ),
      ]);
    return { fit_view, tidy, update_node, select, focus_node, set_view, draw };
  },
  render() {
    return this.draw();
  },
};
