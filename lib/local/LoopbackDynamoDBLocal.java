import java.lang.reflect.Field;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local bound to one address. DynamoDBLocal.jar has no bind-address option: its Jetty
 * server is built with `new Server(port)`, which listens on every interface. This launcher builds
 * the same server from the same command-line arguments, sets the host of its connectors (the
 * system property `ipam.dynamodb.host`, default 127.0.0.1) and only then starts it. Started by
 * lib/local/dynamodb-local.ts from the class file beside this source, so a Java runtime is enough. After
 * changing this file: javac --release 17 -cp "<jar dir>/DynamoDBLocal.jar:<jar dir>/DynamoDBLocal_lib/*" -d lib/local lib/local/LoopbackDynamoDBLocal.java
 */
public class LoopbackDynamoDBLocal {
  public static void main(String[] args) throws Exception {
    String host = System.getProperty("ipam.dynamodb.host", "127.0.0.1");
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    Connector[] connectors = server.getConnectors();
    if (connectors.length == 0) throw new IllegalStateException("DynamoDB Local has no connector to bind");
    for (Connector c : connectors) ((ServerConnector) c).setHost(host);
    proxy.start();
    System.out.println("DynamoDB Local listening on " + host);
  }
}
