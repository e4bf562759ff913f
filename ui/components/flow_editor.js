// NiceGUI's component file for ui/components/flow_editor.py. The component itself lives in the bundle
// that ui/editor/build.py makes (imported through NiceGUI's import map as "flowgate-editor"), so it is
// built with the same pinned Vue Flow it uses.
import { FlowEditor } from "flowgate-editor";

export default FlowEditor;
