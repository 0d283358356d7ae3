// Apache Avro for Java reading records in Avro single-object encoding, as any
// spec-following consumer would: the writer schema is found by the header's
// CRC-64-AVRO fingerprint in a SchemaStore built from the .avsc files, and the
// record is resolved to the current schema of the same name.
//
// Usage: java -cp <avro jars> SingleObjectReader.java <schemas dir> < hex lines
//        java -cp <avro jars> SingleObjectReader.java --registry <url> < hex lines
// Prints one line per input line: the record in Avro's JSON encoding, or "error: ...".
// Files under <schemas dir>/released are old writers only. With --registry the records
// are in the Confluent wire format (00 + 4-byte big-endian schema id + Avro binary) and
// the writer schema comes from the registry's GET /schemas/ids/<id>.

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.JsonEncoder;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.SchemaStore;

public class SingleObjectReader {
  public static void main(String[] args) throws Exception {
    if (args[0].equals("--registry")) {
      readFromRegistry(args[1]);
      return;
    }
    Path root = Paths.get(args[0]);
    SchemaStore.Cache store = new SchemaStore.Cache();
    Map<String, Schema> current = new HashMap<>();
    List<Path> files;
    try (Stream<Path> walk = Files.walk(root)) {
      files = walk.filter(p -> p.toString().endsWith(".avsc")).sorted().collect(Collectors.toList());
    }
    for (Path file : files) {
      Schema schema = new Schema.Parser().parse(file.toFile());
      store.addSchema(schema);
      if (!root.relativize(file).startsWith("released")) {
        current.put(schema.getFullName(), schema);
      }
    }
    eachLine(
        data -> {
          // Only to pick the reader schema: the decoder below reads the header itself.
          long fingerprint = ByteBuffer.wrap(data, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
          Schema writer = store.findByFingerprint(fingerprint);
          if (writer == null) {
            throw new IllegalArgumentException("no schema has fingerprint " + fingerprint);
          }
          Schema reader = current.get(writer.getFullName());
          BinaryMessageDecoder<GenericRecord> decoder =
              new BinaryMessageDecoder<>(GenericData.get(), reader, store);
          return json(reader, decoder.decode(data));
        });
  }

  static void readFromRegistry(String url) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    ObjectMapper mapper = new ObjectMapper();
    Map<Integer, Schema> schemas = new HashMap<>();
    eachLine(
        data -> {
          if (data[0] != 0) {
            throw new IllegalArgumentException("not the Confluent wire format");
          }
          int id = ByteBuffer.wrap(data, 1, 4).order(ByteOrder.BIG_ENDIAN).getInt();
          Schema writer = schemas.get(id);
          if (writer == null) {
            HttpRequest get =
                HttpRequest.newBuilder(URI.create(url + "/schemas/ids/" + id)).build();
            String body = http.send(get, HttpResponse.BodyHandlers.ofString()).body();
            writer = new Schema.Parser().parse(mapper.readTree(body).get("schema").asText());
            schemas.put(id, writer);
          }
          GenericRecord record =
              new GenericDatumReader<GenericRecord>(writer)
                  .read(null, DecoderFactory.get().binaryDecoder(data, 5, data.length - 5, null));
          return json(writer, record);
        });
  }

  /** Turns one record's bytes into the line to print. */
  interface RecordDecoder {
    String decode(byte[] data) throws Exception;
  }

  /** Each hex line of stdin decoded to one line of stdout, or "error: ..." for it. */
  static void eachLine(RecordDecoder decoder) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      try {
        out.println(decoder.decode(HexFormat.of().parseHex(line.trim())));
      } catch (Exception e) {
        out.println("error: " + e.getClass().getSimpleName() + ": " + e.getMessage());
      }
    }
  }

  static String json(Schema schema, GenericRecord record) throws Exception {
    ByteArrayOutputStream json = new ByteArrayOutputStream();
    JsonEncoder encoder = EncoderFactory.get().jsonEncoder(schema, json);
    new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
    encoder.flush();
    return json.toString(StandardCharsets.UTF_8);
  }
}
