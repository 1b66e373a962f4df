<?xml version="1.0" encoding="UTF-8"?>
<!-- The gateway's receipt (urn:rabt:gateway:receipt) → the police's bdr:NotificationReceipt. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:r="urn:rabt:gateway:receipt" xmlns:bdr="urn:om:rop:border:2020"
    exclude-result-prefixes="r">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/r:Receipt">
    <bdr:NotificationReceipt>
      <bdr:MsgId><xsl:value-of select="r:SourceMessageId"/></bdr:MsgId>
      <!-- the first message's id when this is a repeat: the receipt says which -->
      <bdr:HubMessageId><xsl:value-of select="r:HubMessageId"/></bdr:HubMessageId>
      <bdr:ReceivedAt><xsl:value-of select="r:ReceivedAt"/></bdr:ReceivedAt>
      <bdr:Duplicate><xsl:value-of select="r:Duplicate"/></bdr:Duplicate>
    </bdr:NotificationReceipt>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a gateway receipt, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
