package io.gpucloud.worker.fabric;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Renders a value tree exactly as jsoncpp's {@code Json::StyledWriter} does, which is what fmpm
 * prints: keys sorted (jsoncpp objects are std::maps), three-space indent, {@code "key" : value},
 * arrays holding objects one element per line, short scalar arrays on one line, newline at the end.
 * Only what fmpm emits is supported: objects, arrays, integers, strings.
 */
final class StyledJson {

    private static final int RIGHT_MARGIN = 74;

    private final StringBuilder out = new StringBuilder(32 * 1024);
    private String indent = "";

    private StyledJson() {
    }

    static String write(Object root) {
        StyledJson w = new StyledJson();
        w.value(root);
        w.out.append('\n');
        return w.out.toString();
    }

    private void value(Object v) {
        if (v instanceof Map<?, ?> map) {
            object(new TreeMap<>(map));
        } else if (v instanceof List<?> list) {
            array(list);
        } else {
            out.append(scalar(v));
        }
    }

    private void object(TreeMap<?, ?> map) {
        if (map.isEmpty()) {
            out.append("{}");
            return;
        }
        withIndent("{");
        indent += "   ";
        int i = 0;
        for (Map.Entry<?, ?> e : map.entrySet()) {
            withIndent(quote(e.getKey().toString()));
            out.append(" : ");
            value(e.getValue());
            if (++i < map.size()) {
                out.append(',');
            }
        }
        indent = indent.substring(3);
        withIndent("}");
    }

    private void array(List<?> list) {
        if (list.isEmpty()) {
            out.append("[]");
            return;
        }
        boolean multiLine = list.size() * 3 >= RIGHT_MARGIN
                || list.stream().anyMatch(v -> v instanceof Map<?, ?> || v instanceof List<?>);
        if (!multiLine) {
            int length = 4 + (list.size() - 1) * 2 + list.stream().mapToInt(v -> scalar(v).length()).sum();
            multiLine = length >= RIGHT_MARGIN;
        }
        if (!multiLine) {
            out.append("[ ");
            for (int i = 0; i < list.size(); i++) {
                out.append(i > 0 ? ", " : "").append(scalar(list.get(i)));
            }
            out.append(" ]");
            return;
        }
        withIndent("[");
        indent += "   ";
        for (int i = 0; i < list.size(); i++) {
            newLineIndent();
            value(list.get(i));
            if (i + 1 < list.size()) {
                out.append(',');
            }
        }
        indent = indent.substring(3);
        withIndent("]");
    }

    // jsoncpp's writeIndent: start a new line unless the text already ends with one or with a space.
    private void newLineIndent() {
        if (out.length() > 0) {
            char last = out.charAt(out.length() - 1);
            if (last == ' ') {
                return;
            }
            if (last != '\n') {
                out.append('\n');
            }
        }
        out.append(indent);
    }

    private void withIndent(String s) {
        newLineIndent();
        out.append(s);
    }

    private static String scalar(Object v) {
        if (v instanceof String s) {
            return quote(s);
        }
        return String.valueOf(v);
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
