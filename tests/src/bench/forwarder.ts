/**
 * The "25 lines of mqtt.js + fetch" peer of bench:load (issue 10): every SOS on
 * the broker becomes one HTTP request to the SMS server, OutId = the event id.
 * It stores nothing and acknowledges (PUBACK) before it sends: what it holds is
 * lost on a stop. Usage: node forwarder.js MQTT_URL SMS_URL; prints "ready".
 */
import { connect } from 'mqtt';

const [mqttUrl, smsUrl] = process.argv.slice(2);
if (!mqttUrl || !smsUrl) throw new Error('usage: forwarder MQTT_URL SMS_URL');
const client = connect(mqttUrl, { clientId: 'bench-forwarder', clean: true, protocolVersion: 4 });
client.on('connect', () => {
  client.subscribe('kanjia/v1/devices/+/events', { qos: 1 }, () => process.stdout.write('ready\n'));
});
client.on('message', (topic, payload) => {
  let event: { id?: string; type?: string };
  try {
    event = JSON.parse(payload.toString()) as { id?: string; type?: string };
  } catch {
    return;
  }
  if (event.type !== 'sos' || typeof event.id !== 'string') return;
  const deviceId = topic.split('/')[3] ?? '';
  const url = `${smsUrl}/?Action=SendSms&OutId=${encodeURIComponent(event.id)}`;
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ deviceId, text: `紧急求助 ${deviceId}` }) }).catch(() => undefined);
});
process.on('SIGTERM', () => client.end(true, () => process.exit(0)));
