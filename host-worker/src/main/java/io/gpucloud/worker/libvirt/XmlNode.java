package io.gpucloud.worker.libvirt;

import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.xml.stream.XMLOutputFactory;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamWriter;

/**
 * A small element tree that keeps attributes in the order they were set, serialized with the JDK's StAX
 * writer (which does all escaping). DOM would sort attributes by name; libvirt's and NCCL's documents
 * read better in their customary order ({@code <address type='pci' domain=... bus=... slot=... function=...>}).
 */
final class XmlNode {

    private final String namespace;
    private final String prefix;
    private final String name;
    private final Map<String, String> attributes = new LinkedHashMap<>();
    private final List<XmlNode> children = new ArrayList<>();
    private String text;

    private XmlNode(String namespace, String prefix, String name) {
        this.namespace = namespace;
        this.prefix = prefix;
        this.name = name;
    }

    static XmlNode root(String name) {
        return new XmlNode(null, null, name);
    }

    /** Appends a child element. */
    XmlNode child(String childName) {
        XmlNode c = new XmlNode(null, null, childName);
        children.add(c);
        return c;
    }

    /** Appends a child element in a namespace, written with {@code prefix}. */
    XmlNode child(String childNamespace, String childPrefix, String childName) {
        XmlNode c = new XmlNode(childNamespace, childPrefix, childName);
        children.add(c);
        return c;
    }

    /** Appends {@code <name>value</name>} and returns the new element. */
    XmlNode text(String childName, String value) {
        XmlNode c = child(childName);
        c.text = value;
        return c;
    }

    XmlNode attr(String attribute, Object value) {
        attributes.put(attribute, String.valueOf(value));
        return this;
    }

    /**
     * Serializes with two-space indentation and no XML declaration.
     *
     * @param namespaces prefix → URI declared on the root element
     */
    String render(Map<String, String> namespaces) {
        try {
            StringWriter out = new StringWriter();
            XMLStreamWriter w = XMLOutputFactory.newFactory().createXMLStreamWriter(out);
            namespaces.forEach((p, uri) -> {
                try {
                    w.setPrefix(p, uri);
                } catch (XMLStreamException e) {
                    throw new IllegalStateException(e);
                }
            });
            write(w, 0, namespaces);
            w.writeCharacters("\n");
            w.flush();
            return out.toString();
        } catch (XMLStreamException e) {
            throw new IllegalStateException("cannot write XML", e);
        }
    }

    private void write(XMLStreamWriter w, int depth, Map<String, String> declare) throws XMLStreamException {
        boolean empty = children.isEmpty() && text == null;
        if (namespace != null) {
            if (empty) {
                w.writeEmptyElement(prefix, name, namespace);
            } else {
                w.writeStartElement(prefix, name, namespace);
            }
        } else if (empty) {
            w.writeEmptyElement(name);
        } else {
            w.writeStartElement(name);
        }
        for (Map.Entry<String, String> ns : declare.entrySet()) {
            w.writeNamespace(ns.getKey(), ns.getValue());
        }
        for (Map.Entry<String, String> a : attributes.entrySet()) {
            w.writeAttribute(a.getKey(), a.getValue());
        }
        if (empty) {
            return;
        }
        if (text != null) {
            w.writeCharacters(text);
        }
        for (XmlNode c : children) {
            w.writeCharacters("\n" + "  ".repeat(depth + 1));
            c.write(w, depth + 1, Map.of());
        }
        if (!children.isEmpty()) {
            w.writeCharacters("\n" + "  ".repeat(depth));
        }
        w.writeEndElement();
    }
}
